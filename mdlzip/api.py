"""The library API, shaped like `lzma`: compress, decompress, info, open, and the MDL report.

Importing it does not import torch: a model runs (and torch loads) only where one is trained or
stored, never for `info`, cm or the classical methods.
"""
from __future__ import annotations

import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from tqdm import tqdm

from . import classical, container, memory, pipeline, runtime, sections
from .container import Method, Section
from .errors import ChecksumError, FormatError, MdlzipError, OptionError, OutOfMemoryError
from .cost import format_seconds
from .levels import CLASSICAL_LEVEL, DEFAULT_LEVEL, LEVELS, Plan, check_level, settings
from .models.stored import param_count
from .options import CompressOptions, DecompressOptions
from .training import distributed
from .training.config import auto_trials


@dataclass
class ArchiveInfo:
    """What an archive says about itself, read without decoding the data."""

    method: str
    original_bytes: int
    archive_bytes: int
    sizes: dict[str, int]  # itemized archive bytes; they add up to archive_bytes
    memory_needed: int = 0  # bytes that decoding allocates (mdlzip.memory), at the default batch
    model: dict | None = None  # configuration of the stored model (neural method)
    params: int | None = None
    nonzeros: int | None = None
    model_sha256: str | None = None  # coded with this external model file (compress -M), not stored
    contexts: list[str] | None = None  # cm and mixed: the adaptive statistics' context kinds (FORMAT.md 4.1)
    members: int | None = None  # a multi-member archive: its members, records and blocks (else None)
    records: int | None = None
    blocks: int | None = None

    @property
    def bits_per_byte(self) -> float:
        return 8 * self.archive_bytes / self.original_bytes if self.original_bytes else 0.0

    @property
    def weight_bits_per_nonzero(self) -> float | None:
        return 8 * self.sizes["weights"] / self.nonzeros if self.nonzeros else None

    @property
    def data_bits_per_byte(self) -> float | None:
        return 8 * self.sizes["data"] / self.original_bytes if "data" in self.sizes and self.original_bytes else None

    def to_dict(self) -> dict:
        return dict(asdict(self), bits_per_byte=self.bits_per_byte,
                    weight_bits_per_nonzero=self.weight_bits_per_nonzero, data_bits_per_byte=self.data_bits_per_byte)


@dataclass
class Report(ArchiveInfo):
    """The MDL report of one compression: the archive's itemized size beside xz -9e."""

    level: int = DEFAULT_LEVEL
    neural_bytes: int | None = None  # size the mixed (or with pure, neural) archive had, also when not written
    candidates: dict[str, int] = field(default_factory=dict)  # method -> archive bytes
    xz_bytes: int = 0
    train_steps: int = 0
    trial_seconds: float = 0.0  # the trials of alpha and size "auto", before the training
    train_seconds: float = 0.0  # the model's training, its trials apart
    code_seconds: float = 0.0
    device: str = "cpu"
    training: dict = field(default_factory=dict)  # regularizer, pruning counts (mdlzip.training.train.TrainStats)
    lumping: dict | None = None  # neurons and parameters before/after lumping
    no_model: str | None = None  # why no model was trained, when none was
    external_model: dict | None = None  # coded with a model file (-M): its sha256 and bytes, not in the archive

    def to_dict(self) -> dict:
        return dict(super().to_dict(), ratio_to_xz=self.archive_bytes / self.xz_bytes if self.xz_bytes else None)

    def format(self) -> str:
        """Human-readable report (the CLI prints it to stderr)."""
        lines = [f"input        {self.original_bytes:>12,} bytes",
                 f"archive      {self.archive_bytes:>12,} bytes  {self.bits_per_byte:.3f} bits/byte  method {self.method}"]
        for name, n in self.sizes.items():
            extra = ""
            if name == "weights" and self.nonzeros is not None:
                bpn = self.weight_bits_per_nonzero
                extra = f"  {self.params:,} params, {self.nonzeros:,} nonzero" + (f", {bpn:.2f} bits/nonzero" if bpn else "")
            elif name == "data" and self.original_bytes:
                extra = f"  {self.data_bits_per_byte:.3f} bits/byte"
            lines.append(f"  {name:<10} {n:>12,}{extra}")
        if self.contexts:
            lines.append(f"contexts     {' '.join(self.contexts)}")
        if self.neural_bytes and self.neural_bytes != self.archive_bytes:
            lines.append(f"  (the model's archive was {self.neural_bytes:,} bytes; the smaller {self.method} coding was written)")
        t = self.training
        if t.get("regularizer"):
            steps = [(t.get("nonzeros_before"), "before pruning"), (t.get("nonzeros_pruned"), "pruned"),
                     (t.get("nonzeros_rgp"), f"RGP removed {t.get('rgp_removed', 0):,}"),
                     (t.get("nonzeros_final"), "stored")]
            counts = " -> ".join(f"{n:,} ({what})" for n, what in steps if n is not None)
            lines.append(f"training     {t['regularizer']}, alpha {t.get('alpha', 0):.3g}"
                         + (f"; nonzero weights {counts} of {t.get('params', 0):,}" if counts else ""))
        if t.get("alpha_sweep"):
            trials = [r for r in t["alpha_sweep"] if not r.get("full")]
            best = min(trials, key=lambda r: r["total_bytes"])
            rows = ", ".join(f"{r['alpha']:.3g}{' (chosen)' if r is best else ''} {r['total_bytes']:,}" for r in trials)
            full = ", ".join(f"{r['alpha']:.3g}{' (kept)' if r.get('kept') else ''} {r['total_bytes']:,}"
                             for r in t["alpha_sweep"] if r.get("full"))
            lines.append(f"alpha        by measured total bytes, trials of {best['steps']:,} steps: {rows}"
                         + (f"; in full: {full}" if full else ""))
        if t.get("size_sweep"):
            chosen = (self.model or {}).get("n_embd")
            rows = ", ".join(f"{r['n_embd']}{' (chosen)' if r['n_embd'] == chosen else ''} {r['estimated_total_bytes']:,}"
                             for r in t["size_sweep"])
            lines.append(f"model size   width by measured total bytes (held-back chunks): {rows}")
        if self.lumping:
            lu = self.lumping
            lines.append(f"lumping      eps {lu['eps']}: MLP neurons {lu['neurons_before']:,} -> {lu['neurons_after']:,}, "
                         f"params {lu['params_before']:,} -> {lu['params_after']:,}")
        if self.xz_bytes:
            lines.append(f"xz -9e       {self.xz_bytes:>12,} bytes  ratio mdlzip/xz {self.archive_bytes / self.xz_bytes:.3f}")
        if self.no_model:
            lines.append(f"model        {self.no_model}")
        if self.external_model:
            ext = self.external_model
            lines.append(f"model        external model, {ext['bytes']:,} bytes, sha256 {ext['sha256']} (not in the "
                         "archive: shared by every archive coded with it)")
        if self.members is not None:
            lines.append(f"dataset      {self.members:,} members, {self.records:,} records in {self.blocks:,} blocks "
                         "(each block decodes alone)")
        trials = f"trials {self.trial_seconds:.1f} s, " if self.trial_seconds else ""
        train = f"train {self.train_seconds:.1f} s ({self.train_steps} steps, {self.device}), " if self.train_steps else ""
        lines.append(f"time         {trials}{train}code {self.code_seconds:.1f} s")
        return "\n".join(lines)


MODEL_METHODS = (Method.NEURAL, Method.MIXED, Method.CM)


def _coding(archive: container.Archive) -> sections.Coding | None:
    """The checked CONFIG of a model method (None for the classical ones), and the declared size
    checked against what the coded data can hold: what both decoding and `info` check first."""
    if archive.method in MODEL_METHODS:
        return sections.read_coding(archive.method, archive.sections, archive.original_size, archive.members)
    classical.check_size(archive.method, archive.sections[Section.PAYLOAD], archive.original_size)
    return None


def _data_bytes(archive: container.Archive) -> int:
    return len(archive.sections.get(Section.DATA, archive.sections.get(Section.PAYLOAD, b"")))


def _info(archive: container.Archive, archive_bytes: int, memlimit: int = memory.DEFAULT_MEMLIMIT) -> ArchiveInfo:
    coding = _coding(archive)
    if archive.members:  # decoding needs one block at a time
        from .dataset import block_memory, read_index

        index = read_index(archive, coding)
        info = ArchiveInfo(archive.method.name.lower(), archive.original_size, archive_bytes, archive.sizes,
                           block_memory(archive.method, coding, index)["total"], members=len(index.members),
                           records=len(index.record_lengths), blocks=len(index.block_records))
    else:
        needed = memory.needed(archive.method, archive.original_size, coding, _data_bytes(archive))["total"]
        info = ArchiveInfo(archive.method.name.lower(), archive.original_size, archive_bytes, archive.sizes, needed)
    if coding is not None and coding.mixer is not None:
        info.contexts = list(coding.mixer.contexts)
    if coding is not None and coding.model is not None:
        cfg = coding.model
        info.model, info.params, info.model_sha256 = cfg.to_dict(), param_count(cfg), coding.model_sha256
        if Section.WEIGHTS in archive.sections and (not memlimit or memory.model_bytes(cfg) <= memlimit):
            # the weights are decoded as for decoding (an external model's are not in the archive)
            info.nonzeros = sections.read_model(coding, archive.sections).num_nonzero()
    return info


def _no_model_reason(plan: Plan, asked: bool | None) -> str:
    """Why no model was trained, where none was asked for (`asked`: the option `model`)."""
    if asked is False:
        return "none trained: model=False (--no-model) asks for none"
    level = LEVELS[plan.level]
    if plan.n_bytes < level.model_min_bytes:
        return (f"none trained: below {level.model_min_bytes >> 20} MiB at level {plan.level} a model costs more "
                f"than it saves; --model or -7...-9 train one")
    return (f"none trained: the time budget, {format_seconds(plan.budget)}, leaves time for {plan.budget_steps:,} training "
            f"steps beside the coding (the least is {plan.train.min_steps}); --time-budget or --model train one")


def compress_with_report(data: bytes, level: int = DEFAULT_LEVEL, **options) -> tuple[bytes, Report] | tuple[None, None]:
    """Compress `data`; return the archive and its MDL report.

    The data is coded with adaptive statistics (method cm), and where the level says, where
    `model=True` or where a model option is given, also with a trained transformer mixed in
    (method mixed); with `pure=True`, under the transformer alone (method neural, the seed's
    two-part code). The smallest candidate is written; with `fallback` (the default) stored,
    zstd and xz compete too. The options are the fields of `mdlzip.options.CompressOptions`
    (device, threads, progress, fallback, verify, pure, model, lump_eps, regularizer, alpha,
    beta, tolerance, prelude_frac, finetune_frac); each is checked here, before any work.

    Inside `mdlzip.training.distributed.process_group()` (what `--distributed` runs under torchrun)
    every rank calls it alike and trains its share of the model; rank 0 gets the archive and the
    report, the other ranks (None, None).
    """
    pieces, report = compress_pieces(data, level, **options)
    return (None, None) if pieces is None else (b"".join(pieces), report)


def compress_pieces(data: bytes | bytearray, level: int = DEFAULT_LEVEL, **options) -> tuple[list, Report]:
    """`compress_with_report`, the archive left as the pieces to write one after another
    (container.pieces: nothing is joined, so a large input is never copied whole). A bytearray is
    coded in place and left unchanged (the cm coder's own copy of the bytes, mixer.MixEncoder).
    Under torchrun (`distributed`) the ranks other than 0 get (None, None)."""
    opts = CompressOptions.from_keywords("compress", options)
    runtime.check_available(opts.device)
    data = data if isinstance(data, (bytes, bytearray)) else bytes(data)
    if check_level(level, classical=True) == CLASSICAL_LEVEL:
        return _classical_only(data, opts)
    trials = auto_trials(opts.alpha == "auto", opts.size == "auto")
    plan = settings(level, len(data), time_budget=opts.time_budget, trials=trials, **opts.train_overrides())
    with_model = opts.with_model(plan.trains_model)
    crc = zlib.crc32(data)
    # The classical codings that compete (with fallback) and the xz reference of the report run on a
    # worker thread beside the model's coding where there are two or more threads (lzma, zstd and the
    # kernels release the GIL): on 3 MB of enwik8 they took a third of the time after it.
    def classical_work(progress: bool) -> tuple[dict[Method, list], int]:
        with tqdm(total=len(data) * (3 if opts.fallback else 1), desc="zstd, xz", unit="B", unit_scale=True,
                  disable=not progress, leave=False) as bar:
            return (_classical_candidates(data, crc, bar) if opts.fallback else {}), classical.xz_size(data, bar)

    with ThreadPoolExecutor(1) as pool:
        main = distributed.is_main()
        beside = pool.submit(classical_work, False) if main and runtime.worker_count(opts.threads) > 1 else None
        result = pipeline.encode(data, plan, pure=opts.pure, with_model=with_model, lump_eps=opts.lump_eps,
                                 alpha_auto=opts.alpha == "auto", size_auto=opts.size == "auto",
                                 may_decline=opts.model is None and not opts.model_options(), device=opts.device,
                                 threads=opts.threads, progress=opts.progress)
        if not main:  # another rank of a distributed training: it trained, rank 0 writes
            return None, None
        classical_archives, xz_bytes = beside.result() if beside else classical_work(opts.progress)
    parts_of = dict(result.candidates)
    candidates = {m: container.pieces(m, len(data), crc, parts) for m, parts in parts_of.items()}
    model_method = next(m for m in MODEL_METHODS if m in candidates)
    if opts.fallback:
        candidates.update({m: archive for m, (archive, _) in classical_archives.items()})
        parts_of.update({m: parts for m, (_, parts) in classical_archives.items()})
    else:
        candidates = {model_method: candidates[model_method]}
    size = {m: sum(map(len, pieces)) for m, pieces in candidates.items()}
    method = min(candidates, key=lambda m: (size[m], m != model_method))
    if opts.verify and decompress(b"".join(candidates[method]), device=opts.device, memlimit=0) != data:
        raise MdlzipError("self-check failed: the archive does not decode to the input")
    info = _info(container.described(method, len(data), crc, parts_of[method]), size[method])
    trained = result.trained
    stats = trained.stats if trained else None
    report = Report(**asdict(info), level=level, neural_bytes=size[model_method], candidates=_names(size),
                    xz_bytes=xz_bytes, train_steps=stats.steps if stats else 0,
                    trial_seconds=result.trial_seconds, train_seconds=result.train_seconds,
                    code_seconds=result.code_seconds, device=result.device,
                    training=dict(asdict(stats) if stats else {}, alpha_sweep=result.alpha_sweep,
                                  size_sweep=result.size_sweep) if stats or result.size_sweep else {},
                    lumping=trained.lumped if trained else None,
                    no_model=result.declined or (None if opts.pure or with_model else _no_model_reason(plan, opts.model)))
    return candidates[method], report


def _names(size: dict[Method, int]) -> dict[str, int]:
    return {m.name.lower(): n for m, n in size.items()}


def _classical_candidates(data: bytes, crc: int, bar: tqdm | None = None) -> dict[Method, tuple[list, list]]:
    """The archives of the classical codings (stored, zstd -19, xz -9e): each one's pieces and sections."""
    out = {}
    for m, encode in classical.ENCODERS.items():
        parts = [(Section.PAYLOAD, encode(data, bar))]
        out[m] = container.pieces(m, len(data), crc, parts), parts
    return out


def _classical_only(data: bytes, opts: CompressOptions) -> tuple[list, Report]:
    """Level 0: the smallest of stored, zstd -19 and xz -9e; no statistics, no model."""
    if opts.pure or opts.with_model(False) or not opts.fallback:
        raise OptionError("level 0 is the classical codings alone: no model, pure or no-fallback with it")
    t0 = time.perf_counter()
    crc = zlib.crc32(data)
    candidates = _classical_candidates(data, crc)
    size = {m: sum(map(len, pieces)) for m, (pieces, _) in candidates.items()}
    method = min(candidates, key=lambda m: size[m])
    (pieces, parts), seconds = candidates[method], time.perf_counter() - t0
    info = _info(container.described(method, len(data), crc, parts), size[method])
    return pieces, Report(**asdict(info), level=CLASSICAL_LEVEL, xz_bytes=classical.xz_size(data),
                          candidates=_names(size), code_seconds=seconds,
                          no_model="none: level 0 codes with the classical methods alone")


def compress(data: bytes, level: int = DEFAULT_LEVEL, **options) -> bytes | None:
    """Compress `data` into one .mdlz archive (options, and None on a rank other than 0 of a
    distributed training, as for `compress_with_report`)."""
    return compress_with_report(data, level, **options)[0]


def decompress(data: bytes, **options) -> bytes:
    """Decode a .mdlz archive, or several concatenated (their outputs concatenated, as xz does);
    raises a `FormatError` subclass for anything but valid archives, and `MemoryLimitError`,
    before allocating, where decoding would need more than `memlimit`.
    Options: the fields of `mdlzip.options.DecompressOptions` (device, threads, progress, memlimit)."""
    return b"".join(decompress_pieces(data, **options))


def decompress_pieces(data: bytes, **options) -> list:
    """`decompress`, each archive's output left as it was decoded (bytes-like, in order; a cm
    archive's output is the decoder's own array, not copied): what the CLI writes."""
    opts = DecompressOptions.from_keywords("decompress", options)
    runtime.check_available(opts.device)
    archives = container.unpack_all(data)
    outputs, decoded = [], 0
    for archive in archives:
        outputs.append(_decode_one(archive, opts, decoded))
        decoded += len(outputs[-1])
    return outputs


def _decode_one(archive: container.Archive, opts: DecompressOptions, held: int) -> bytes | memoryview:
    """One archive's bytes; `held`: bytes of earlier archives' output, which count toward the limit."""
    if archive.members:
        return _decode_members(archive, opts, held)
    coding, n, data_bytes = _coding(archive), archive.original_size, _data_bytes(archive)
    room = max(1, opts.memlimit - held) if opts.memlimit else 0
    rows = memory.neural_rows_within(coding, n, data_bytes, room) if archive.method == Method.NEURAL else None
    needed = memory.needed(archive.method, n, coding, data_bytes, rows)
    memory.check(dict(needed, earlier_output=held, total=needed["total"] + held), opts.memlimit)
    try:
        if coding is not None:
            out = pipeline.decode(coding, archive.sections, n, device=opts.device, threads=opts.threads,
                                  progress=opts.progress, rows=rows)
        else:
            out = classical.decode(archive.method, archive.sections[Section.PAYLOAD], n)
    except MemoryError:
        raise _out_of_memory(opts) from None
    if len(out) != n or zlib.crc32(out) != archive.original_crc:
        raise ChecksumError("decoded data does not match the stored CRC32"
                            + (" (the model's outputs differed between compression and decompression?)"
                               if archive.method in (Method.NEURAL, Method.MIXED) else ""))
    return out


def _out_of_memory(opts: DecompressOptions) -> OutOfMemoryError:
    why = (f"the memory limit, {memory.format_size(opts.memlimit)}, is more than this machine had free"
           if opts.memlimit else "no memory limit was set")
    return OutOfMemoryError(f"out of memory while decoding ({why})")


def _decode_members(archive: container.Archive, opts: DecompressOptions, held: int) -> memoryview:
    """A multi-member archive's bytes, all members in order: the largest block's memory, the output
    and `held` count toward the limit (the reader decodes as many blocks at once as it holds); the
    reader checks every block and the archive's CRC-32."""
    from .dataset import Dataset, block_memory

    reader = Dataset.of(archive, opts)
    block = block_memory(archive.method, reader.coding, reader.index)
    n = archive.original_size
    memory.check(dict(block, output=n, earlier_output=held, total=block["total"] + n + held), opts.memlimit)
    try:
        return reader.read_into()
    except MemoryError:
        raise _out_of_memory(opts) from None


def info(data: bytes, memlimit: int | str | None = None) -> ArchiveInfo:
    """Describe an archive (sizes itemized, model, memory needed to decode) without decoding its
    data; its configuration is checked as decoding checks it. The stored weights are read (to count
    the nonzeros) only where the model fits `memlimit` (as for `decompress`). A file of several
    concatenated archives: `info_all`."""
    described = info_all(data, memlimit)
    if len(described) > 1:
        raise FormatError(f"{len(described)} archives concatenated: info_all describes each")
    return described[0]


def info_all(data: bytes, memlimit: int | str | None = None) -> list[ArchiveInfo]:
    """`info` of each archive in a file of one or several concatenated archives."""
    limit = memory.parse_memlimit(memlimit)
    return [_info(archive, sum(archive.sizes.values()), limit) for archive in container.unpack_all(data)]


def list_members(data: bytes) -> list[dict]:
    """The members of a multi-member archive, without decoding: name, size (bytes), records, blocks, crc32."""
    from .dataset import read_index

    archive = container.unpack(data)
    if not archive.members:
        raise FormatError("not a multi-member archive")
    index, rows = read_index(archive, _coding(archive)), []
    for k, m in enumerate(index.members):
        first, end = index.member_records(k)
        rows.append({"name": m.name, "size": index.member_size(k), "records": end - first, "blocks": m.n_blocks,
                     "crc32": m.crc})
    return rows


__all__ = ["ArchiveInfo", "Report", "compress", "compress_with_report", "decompress", "info", "info_all", "list_members"]
