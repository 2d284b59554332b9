"""The model methods: bytes -> train -> prune -> [lump] -> quantize -> code -> sections, and back.

Three codings share the CONFIG/WEIGHTS/DATA sections (FORMAT.md §3-4):
- CM: the adaptive statistics alone, no stored model (codec/mixer.py). Levels 1-6 write it for
  inputs below 16 MiB, where a stored model has been measured to cost more than it saves;
- MIXED: the transformer mixed with those statistics (codec/mixed.py), where a model is trained;
- NEURAL (`pure`): the seed paper's two-part code, range coding under the transformer alone.
torch is imported only where a model runs, so CM archives are written and read without it, and
the cm kernel (C) only where bytes are coded, so `info` loads neither.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from . import runtime, sections
from .codec.layout import DECODE_BATCH, STREAM_GROUP
from .container import Method, Section
from .levels import Plan
from .training import distributed

if TYPE_CHECKING:  # torch is imported only where a model runs
    from .training.train import Trained

Sections = list[tuple[Section, bytes]]


@dataclass
class Encoded:
    """The candidate archives' sections of one input, and what it took to make them."""

    candidates: dict[Method, Sections]  # NEURAL alone, or MIXED and CM, or CM alone
    trained: Trained | None  # the model, when one was trained
    train_seconds: float  # the model's training (its trials apart)
    code_seconds: float
    device: str  # where the model ran ("cpu" when none did: cm runs on the CPU)
    alpha_sweep: list | None = None  # alpha="auto": the measured trials, then both full runs ("full") where one chose alpha > 0
    size_sweep: list | None = None  # size="auto": the measured widths
    declined: str | None = None  # why the trials left the model out (the level's own model only)
    trial_seconds: float = 0.0  # the alpha and width trials, before the training


def cm_sections(data: bytes, plan: Plan, progress: bool = False, workers: int = 1) -> Sections:
    """The CM archive: adaptive statistics alone, one lane (nothing to batch without a model); the
    plan's own or one of its alternatives, whichever codes a sample smaller (mixer.encode_chosen:
    with two workers the plan's own starts coding beside the trials)."""
    from .codec import mixer

    chosen, coded = mixer.encode_chosen(data, (plan.mixer, *plan.mixer_alternatives), plan.block, workers,
                                        progress) if data else (plan.mixer, b"")
    return [(Section.CONFIG, sections.mix_config(plan.block, 1, chosen)), (Section.DATA, coded)]


def encode(data: bytes, plan: Plan, *, pure: bool, with_model: bool, lump_eps: float | None = None,
           alpha_auto: bool = False, size_auto: bool = False, may_decline: bool = False, device: str = "auto",
           threads: int | None = None, progress: bool = False) -> Encoded | None:
    """Code `data` by `plan`: NEURAL with `pure`; else CM, and MIXED if `with_model`. `alpha_auto`,
    `size_auto`: the penalty, then the width, chosen by measured description length first.
    `may_decline` (the level's own model, not one asked for): where the width trials measure that
    the model alone would take more bytes than cm's archive, the model is neither trained in full
    nor mixed in (`Encoded.declined` says so): mixing it could not pay (see `_declines`).
    Under torchrun (training/distributed.py) the other ranks than 0 only train, and return None."""
    main = distributed.is_main()
    if not pure and not with_model:
        if not main:
            return None
        t0 = time.perf_counter()
        return Encoded({Method.CM: cm_sections(data, plan, progress, runtime.worker_count(threads))}, None, 0.0,
                       time.perf_counter() - t0, "cpu")
    if main and not pure and plan.mixer_alternatives and data:  # chosen once: the cm archive beside the model's
        from .codec.mixer import choose_params
        plan = replace(plan, mixer=choose_params(data, (plan.mixer, *plan.mixer_alternatives),
                                                 runtime.worker_count(threads)), mixer_alternatives=())
    with runtime.torch_threads(threads):
        return _encode_with_model(data, plan, pure, lump_eps, alpha_auto, size_auto, may_decline and not pure,
                                  runtime.resolve_device(device), progress)


def _declines(widths: list[dict] | None, cm: Sections) -> str | None:
    """Why the model is left out, or None: the best width's measured total (weights plus the held-back
    chunks' code under the model alone, scaled to the input) above cm's archive. The mixed coder
    adds the model to cm's statistics but codes in 1,024 lanes, which costs those statistics 5-7 %
    (1 MB of text: 239,562 bytes in 1,024 lanes, 223,024 in one), and stores the weights: a model
    that alone does worse than cm was measured never to make that back (README, "Large inputs")."""
    cm_bytes = sum(len(part) for _, part in cm)
    best = min(widths or [], key=lambda r: r["estimated_total_bytes"], default=None)
    if best is None or best["estimated_total_bytes"] <= cm_bytes:
        return None
    return (f"trials of widths {', '.join(str(r['n_embd']) for r in widths)}: the model alone would take about "
            f"{best['estimated_total_bytes']:,} bytes, cm takes {cm_bytes:,}; mixing it in cannot pay")


def _encode_with_model(data: bytes, plan: Plan, pure: bool, lump_eps: float | None, alpha_auto: bool,
                       size_auto: bool, may_decline: bool, device, progress: bool) -> Encoded | None:
    from .codec import arith, mixed
    from .models.exact import ExactByteGPT
    from .codec.layout import file_chunks
    from .training.alpha import candidate, choose_alpha
    from .training.size import choose_width, held_back
    from .training.train import train_quantized

    def sized(train_cfg):  # the width a training gets (`--size auto`: its trials'), and the trials' rows
        if not (size_auto and data):
            return plan.model, None
        chunks = file_chunks(len(data), plan.block)
        return choose_width(data, chunks, held_back(np.arange(len(chunks[0]))), plan.model, train_cfg, device)

    t0 = time.perf_counter()
    train_cfg, sweep = plan.train, None
    if alpha_auto and data:
        train_cfg, sweep = choose_alpha(data, plan.model, train_cfg, device=device)
    model_cfg, widths = sized(train_cfg)
    c0 = time.perf_counter()
    main = distributed.is_main()  # under torchrun the other ranks wait here for rank 0's decision
    cm = None if pure or not main else cm_sections(data, plan, progress)
    cm_seconds = time.perf_counter() - c0
    if may_decline and (why := distributed.from_main(cm and _declines(widths, cm))):
        return Encoded({Method.CM: cm}, None, 0.0, cm_seconds, str(device), sweep, widths, why,
                       c0 - t0) if main else None
    trained = train_quantized(data, model_cfg, train_cfg, device, progress, lump_eps)
    coded = None  # the data coded under the model alone, where the guarantee below measured it
    if alpha_auto and data and train_cfg.alpha > 0:
        def unregularized():
            cfg = candidate(train_cfg, 0.0)
            model_cfg, widths = sized(cfg)
            return train_quantized(data, model_cfg, cfg, device, progress, lump_eps), widths

        trained, widths, coded, full_rows = _never_worse(data, trained, widths, unregularized)
        sweep = sweep + full_rows
    if not main:  # rank 0 codes
        return None
    qm = trained.qm
    t1 = time.perf_counter()
    exact, weights = ExactByteGPT(qm, device), sections.weights_section(qm)
    if pure:
        if coded is None or plan.stream_group != STREAM_GROUP:
            coded = arith.encode(exact, data, plan.stream_group, progress)
        candidates = {Method.NEURAL: [(Section.CONFIG, sections.neural_config(qm.cfg, plan.stream_group)),
                                      (Section.WEIGHTS, weights), (Section.DATA, coded)]}
    else:
        coded = mixed.encode(exact, data, plan.block, plan.lanes, plan.mixer, progress)
        candidates = {Method.MIXED: [(Section.CONFIG, sections.mix_config(plan.block, plan.lanes, plan.mixer, qm.cfg)),
                                     (Section.WEIGHTS, weights), (Section.DATA, coded)],
                      Method.CM: cm}
    return Encoded(candidates, trained, t1 - c0 - cm_seconds, time.perf_counter() - t1 + cm_seconds, str(device), sweep,
                   widths, trial_seconds=c0 - t0)


def _never_worse(data: bytes, chosen: Trained, widths: list | None, unregularized) -> tuple:
    """`--alpha auto`'s guarantee (training/alpha.py): the trials' choice (alpha > 0, trained in full:
    `chosen`, of width trials `widths`) or the model `unregularized()` trains in full as
    `--regularizer none` would, whichever stores fewer bytes with the model alone (weights + data
    coded under it). Returns the model kept, its width trials, its coded data (rank 0's) and the two
    measured rows ("full": True, the kept one "kept": True)."""
    from .training.alpha import row, stored

    plain, plain_widths = unregularized()
    sizes = [stored(data, t.qm) for t in (chosen, plain)] if distributed.is_main() else None
    rows = distributed.from_main(sizes and [dict(row(t.stats, t.qm, *size), full=True)
                                            for t, size in zip((chosen, plain), sizes)])
    kept = int(rows[1]["total_bytes"] < rows[0]["total_bytes"])
    rows[kept]["kept"] = True
    return ((chosen, widths), (plain, plain_widths))[kept] + (sizes[kept][1] if sizes else None, rows)


def decode(coding: sections.Coding, parts: dict[Section, bytes], n_bytes: int, *, device: str = "auto",
           threads: int | None = None, progress: bool = False, rows: int | None = None) -> bytes:
    """The original bytes of a NEURAL, MIXED or CM archive's sections, whose CONFIG `coding`
    (sections.read_coding) has been checked and whose memory (memory.needed) allowed. `rows`:
    NEURAL chunks decoded at once (memory only; the bytes never depend on it)."""
    if coding.method == Method.CM:
        from .codec import mixer

        return mixer.decode_adaptive(parts[Section.DATA], n_bytes, coding.lanes, coding.mixer, coding.block,
                                     progress) if n_bytes else b""
    qm = sections.read_model(coding, parts)
    with runtime.torch_threads(threads):
        from .codec import arith, mixed
        from .models.exact import ExactByteGPT

        model = ExactByteGPT(qm, runtime.resolve_device(device))
        if coding.method == Method.NEURAL:
            return arith.decode(model, parts[Section.DATA], n_bytes, coding.group, batch_chunks=rows or DECODE_BATCH,
                                progress=progress)
        return mixed.decode(model, parts[Section.DATA], n_bytes, coding.block, coding.lanes, coding.mixer, progress)
