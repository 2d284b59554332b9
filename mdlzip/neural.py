"""The model-based methods: bytes -> train -> regularize/prune -> [lump] -> quantize -> code -> sections.

Three codings share the CONFIG/WEIGHTS/DATA sections (FORMAT.md):
- NEURAL, the pure two-part code of the seed paper: range coding under the transformer alone;
- MIXED: the transformer mixed with adaptive statistics of the bytes already coded (codec/mixed.py);
- CM: the adaptive statistics alone, no stored model (written when the model does not pay for itself).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, fields, replace

import numpy as np
import torch

from .alpha import choose_alpha
from .codec import arith, mixed
from .codec.mixer import MixParams
from .codec.weights import decode_tensors, encode_tensors
from .config import MODEL_MIN_BYTES, STREAM_GROUP, settings
from .container import Method, Section
from .errors import FormatError
from .lumping import lump_mlp_weights
from .models.exact import ExactByteGPT, QuantizedModel, quantize
from .models.transformer import ByteGPT, ByteGPTConfig
from .train import TrainStats, fit

CODER = "range/constriction/categorical-lazy/precision24/float64"  # NEURAL, fixed by format version 1
MIX_CODER = "mix/binary32/lanes"  # MIXED and CM (codec/mixer.py)
DEFAULT_LANES = 1024  # lanes of the mixed coder: the decoder's batch, and so its speed
LIMITS = {"block_size": 8192, "n_layer": 64, "n_head": 64, "n_embd": 2048, "mlp_ratio": 8, "weight_bits": 15}
MAX_PARAMS = 1 << 28
MAX_LANES = 1 << 16


@dataclass(frozen=True)
class Options:
    """What a user may choose beyond the level."""

    pure: bool = False  # the seed's pure two-part code (method NEURAL) instead of mixing
    model: bool | None = None  # train the transformer for mixing: None = when the level says (MODEL_MIN_BYTES)
    lump_eps: float | None = None  # lump the MLP neurons with this tolerance after training
    lanes: int = DEFAULT_LANES
    train: dict = field(default_factory=dict)  # TrainConfig overrides (regularizer, alpha, ...)


@dataclass
class NeuralResult:
    candidates: dict[Method, list[tuple[Section, bytes]]]
    stats: TrainStats | None
    train_seconds: float
    code_seconds: float
    device: str
    lumped: dict | None = None  # neurons and parameters before/after lumping
    alpha_sweep: list | None = None  # --alpha auto: the measured candidates


@torch.no_grad()
def lump_transformer(model: ByteGPT, eps: float) -> tuple[ByteGPT, dict]:
    """Merge the MLP neurons of every block that are equivalent within `eps` (mdlzip.lumping)."""
    merged = []
    for block in model.h:
        fc, out = (m.weight * m.mask for m in (block.mlp.fc, block.mlp.out))
        fc, out, _ = lump_mlp_weights(fc, out, eps)
        if len(fc) == 0:  # every neuron was dead: keep one zero neuron, the format wants width >= 1
            fc, out = fc.new_zeros(1, fc.shape[1]), out.new_zeros(out.shape[0], 1)
        merged.append((fc, out))
    cfg = replace(model.cfg, mlp_hidden=tuple(len(fc) for fc, _ in merged))
    lumped = ByteGPT(cfg)
    lumped.load_state_dict({k: v for k, v in model.state_dict().items() if ".mlp.fc." not in k and ".mlp.out." not in k},
                           strict=False)
    for block, (fc, out) in zip(lumped.h, merged):
        for m, w in ((block.mlp.fc, fc), (block.mlp.out, out)):
            m.weight.copy_(w)
            m.mask.copy_((w != 0).float())
    count = lambda m: sum(int(q.mask.sum()) for q in m.prunable().values())
    info = {"eps": eps, "neurons_before": sum(model.cfg.hidden(i) for i in range(cfg.n_layer)),
            "neurons_after": sum(cfg.mlp_hidden), "params_before": count(model), "params_after": count(lumped)}
    return lumped.eval(), info


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    return torch.device(device)


def layout(cfg: ByteGPTConfig) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """Shapes of the stored weight matrices and names of the activation scales, in archive order
    (from a model on the meta device: nothing is allocated)."""
    with torch.device("meta"):
        model = ByteGPT(cfg)
    return {name: tuple(m.weight.shape) for name, m in model.prunable().items()}, list(model.act_quants())


def weights_section(qm: QuantizedModel) -> bytes:
    scales = np.array(list(qm.weight_scales.values()) + list(qm.act_scales.values()), dtype="<f4")
    return scales.tobytes() + encode_tensors(list(qm.codes.values()), qm.cfg.weight_qmax)


def _json(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _mix_config(block: int, lanes: int, params: MixParams) -> dict:
    return {"block": block, "lanes": lanes, "mixer": params.to_dict(), "coder": MIX_CODER}


def cm_sections(data: bytes, block: int) -> list[tuple[Section, bytes]]:
    """The CM archive: adaptive statistics alone, one lane (nothing to batch without a model)."""
    params = MixParams.for_size(len(data))
    return [(Section.CONFIG, _json(_mix_config(block, 1, params))), (Section.DATA, mixed.encode(None, data, block, 1, params))]


def compress(data: bytes, level: int, device: torch.device, progress: bool = False,
             options: Options = Options()) -> NeuralResult:
    """Train on `data` and code it: the NEURAL candidate with `pure`, else CM and (if a model is
    trained) MIXED."""
    use_model = options.model if options.model is not None else len(data) >= MODEL_MIN_BYTES[level]
    if not options.pure and not use_model:
        t0 = time.perf_counter()
        return NeuralResult({Method.CM: cm_sections(data, settings(level, len(data))[0].block_size)}, None, 0.0,
                            time.perf_counter() - t0, str(device))
    auto = options.train.get("alpha") == "auto"
    cfg, train_cfg = settings(level, len(data), **{k: v for k, v in options.train.items() if not (auto and k == "alpha")})
    t0 = time.perf_counter()
    sweep = None
    if auto and data:
        best, sweep = choose_alpha(data, cfg, train_cfg, device=device)
        train_cfg = replace(train_cfg, alpha=best)
    torch.manual_seed(train_cfg.seed)
    model = ByteGPT(cfg)
    stats = fit(model, data, train_cfg, device, progress) if data else None
    lumped = None
    if options.lump_eps is not None:
        model, lumped = lump_transformer(model, options.lump_eps)
        cfg = model.cfg
    qm = quantize(model)
    t1 = time.perf_counter()
    exact, weights = ExactByteGPT(qm, device), weights_section(qm)
    if options.pure:
        streams = arith.encode(exact, data, STREAM_GROUP, progress)
        config = {"model": cfg.to_dict(), "group": STREAM_GROUP, "coder": CODER}
        candidates = {Method.NEURAL: [(Section.CONFIG, _json(config)), (Section.WEIGHTS, weights),
                                      (Section.DATA, arith.pack_streams(streams))]}
    else:
        params = MixParams.for_size(len(data))
        coded = mixed.encode(exact, data, cfg.block_size, options.lanes, params, progress)
        candidates = {Method.MIXED: [(Section.CONFIG, _json({"model": cfg.to_dict(), **_mix_config(cfg.block_size,
                                                                                                  options.lanes, params)})),
                                     (Section.WEIGHTS, weights), (Section.DATA, coded)],
                      Method.CM: cm_sections(data, cfg.block_size)}
    return NeuralResult(candidates, stats, t1 - t0, time.perf_counter() - t1, str(device), lumped, sweep)


def _load(blob: bytes) -> dict:
    try:
        raw = json.loads(blob.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"model configuration is corrupt ({exc})") from None
    if not isinstance(raw, dict):
        raise FormatError("model configuration is corrupt")
    return raw


def read_model_config(model: object) -> ByteGPTConfig:
    """Bound-check a stored model configuration before anything is allocated from it."""
    try:
        names = {f.name for f in fields(ByteGPTConfig)}
        hidden = model.pop("mlp_hidden", [])
        if set(model) != names - {"mlp_hidden"} or not all(type(model[k]) is int for k in model):
            raise ValueError("bad model fields")
        if type(hidden) is not list or not all(type(h) is int and h >= 1 for h in hidden):
            raise ValueError("bad MLP widths")
        cfg = ByteGPTConfig(**model, mlp_hidden=tuple(hidden))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FormatError(f"model configuration is corrupt ({exc})") from None
    for key, cap in LIMITS.items():
        if not 1 <= getattr(cfg, key) <= cap:
            raise FormatError(f"model configuration is out of range ({key})")
    if cfg.n_embd % cfg.n_head or cfg.n_embd // cfg.n_head > 512 or cfg.weight_bits < 2:
        raise FormatError("model configuration is inconsistent")
    if cfg.mlp_hidden and (len(cfg.mlp_hidden) != cfg.n_layer or max(cfg.mlp_hidden) > cfg.mlp_ratio * cfg.n_embd):
        raise FormatError("model configuration is inconsistent (MLP widths)")
    if sum(np.prod(s) for s in layout(cfg)[0].values()) > MAX_PARAMS:
        raise FormatError("model configuration is too large")
    return cfg


def read_config(blob: bytes) -> tuple[ByteGPTConfig, int]:
    """The NEURAL configuration: model and stream group."""
    raw = _load(blob)
    if raw.get("coder") != CODER:
        raise FormatError(f"unsupported coder {raw.get('coder')!r}")
    group = raw.get("group")
    if type(group) is not int or not 1 <= group <= 1 << 16:
        raise FormatError("model configuration is corrupt (stream group)")
    return read_model_config(raw.get("model")), group


def read_mix_config(blob: bytes, with_model: bool) -> tuple[ByteGPTConfig | None, int, int, MixParams]:
    """The MIXED/CM configuration: model (MIXED only), chunk length, lanes, mixer parameters."""
    raw = _load(blob)
    if raw.get("coder") != MIX_CODER:
        raise FormatError(f"unsupported coder {raw.get('coder')!r}")
    block, lanes = raw.get("block"), raw.get("lanes")
    if type(block) is not int or not 1 <= block <= LIMITS["block_size"] or type(lanes) is not int \
            or not 1 <= lanes <= MAX_LANES:
        raise FormatError("coder configuration is corrupt (block or lanes)")
    try:
        params = MixParams.from_dict(raw.get("mixer"))
    except (ValueError, TypeError, AttributeError) as exc:
        raise FormatError(f"coder configuration is corrupt ({exc})") from None
    cfg = read_model_config(raw.get("model")) if with_model else None
    if cfg is not None and cfg.block_size != block:
        raise FormatError("coder configuration is inconsistent (block)")
    return cfg, block, lanes, params


def read_weights(cfg: ByteGPTConfig, weights: bytes) -> QuantizedModel:
    wshapes, anames = layout(cfg)
    n_scales = len(wshapes) + len(anames)
    if len(weights) < 4 * n_scales:
        raise FormatError("weights section is truncated")
    scales = np.frombuffer(weights, dtype="<f4", count=n_scales).astype(float)
    if not np.all((scales >= 2.0**-40) & (scales <= 2.0**20)):  # keeps every intermediate finite
        raise FormatError("weights section is corrupt (scales out of range)")
    codes = decode_tensors(weights[4 * n_scales:], list(wshapes.values()), cfg.weight_qmax)
    return QuantizedModel(cfg, dict(zip(wshapes, codes)), dict(zip(wshapes, scales[:len(wshapes)].tolist())),
                          dict(zip(anames, scales[len(wshapes):].tolist())))


def read_model(method: Method, sections: dict[Section, bytes]) -> QuantizedModel | None:
    """The stored model of a NEURAL or MIXED archive (None for CM)."""
    if method == Method.CM:
        return None
    if method == Method.NEURAL:
        cfg = read_config(sections[Section.CONFIG])[0]
    else:
        cfg = read_mix_config(sections[Section.CONFIG], True)[0]
    return read_weights(cfg, sections[Section.WEIGHTS])


def decompress(method: Method, sections: dict[Section, bytes], n_bytes: int, device: torch.device,
               progress: bool = False) -> bytes:
    if method == Method.NEURAL:
        cfg, group = read_config(sections[Section.CONFIG])
        qm = read_weights(cfg, sections[Section.WEIGHTS])
        n_streams = -(-n_bytes // (cfg.block_size * group))
        if 4 * n_streams > len(sections[Section.DATA]):
            raise FormatError("coded data is too short for the original size")
        streams = arith.unpack_streams(sections[Section.DATA], n_streams)
        return arith.decode(ExactByteGPT(qm, device), streams, n_bytes, group, progress=progress)
    cfg, block, lanes, params = read_mix_config(sections[Section.CONFIG], method == Method.MIXED)
    if n_bytes > mixed.MAX_EXPANSION * len(sections[Section.DATA]) + 1024:
        raise FormatError("coded data is too short for the original size")
    model = None if cfg is None else ExactByteGPT(read_weights(cfg, sections[Section.WEIGHTS]), device)
    return mixed.decode(model, sections[Section.DATA], n_bytes, block, lanes, params, progress)
