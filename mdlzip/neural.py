"""The neural method: bytes -> train -> prune -> quantize -> code -> sections, and back."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, fields

import numpy as np
import torch

from .codec import arith
from .codec.weights import decode_tensors, encode_tensors
from .config import STREAM_GROUP, settings
from .container import Section
from .errors import FormatError
from .models.exact import ExactByteGPT, QuantizedModel, quantize
from .models.transformer import ByteGPT, ByteGPTConfig
from .train import fit

CODER = "range/constriction/categorical-lazy/precision24/float64"  # fixed by format version 1
LIMITS = {"block_size": 8192, "n_layer": 64, "n_head": 64, "n_embd": 2048, "mlp_ratio": 8, "weight_bits": 15}
MAX_PARAMS = 1 << 28


@dataclass
class NeuralResult:
    sections: list[tuple[Section, bytes]]
    steps: int
    train_seconds: float
    code_seconds: float
    device: str


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


def compress(data: bytes, level: int, device: torch.device, progress: bool = False) -> NeuralResult:
    cfg, train_cfg = settings(level, len(data))
    torch.manual_seed(train_cfg.seed)
    model = ByteGPT(cfg)
    t0 = time.perf_counter()
    steps = fit(model, data, train_cfg, device, progress).steps if data else 0
    qm = quantize(model)
    t1 = time.perf_counter()
    streams = arith.encode(ExactByteGPT(qm, device), data, STREAM_GROUP, progress)
    code_seconds = time.perf_counter() - t1
    config = {"model": cfg.to_dict(), "group": STREAM_GROUP, "coder": CODER}
    scales = np.array(list(qm.weight_scales.values()) + list(qm.act_scales.values()), dtype="<f4")
    weights = scales.tobytes() + encode_tensors(list(qm.codes.values()), cfg.weight_qmax)
    sections = [(Section.CONFIG, json.dumps(config, separators=(",", ":")).encode()),
                (Section.WEIGHTS, weights), (Section.DATA, arith.pack_streams(streams))]
    return NeuralResult(sections, steps, t1 - t0, code_seconds, str(device))


def read_config(blob: bytes) -> tuple[ByteGPTConfig, int]:
    """Parse and bound-check the CONFIG section before anything is allocated from it."""
    try:
        raw = json.loads(blob.decode("utf-8"))
        model = raw["model"]
        names = {f.name for f in fields(ByteGPTConfig)}
        if set(model) != names or not all(type(model[k]) is int for k in names):
            raise ValueError("bad model fields")
        cfg, group = ByteGPTConfig(**model), raw["group"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise FormatError(f"model configuration is corrupt ({exc})") from None
    if raw.get("coder") != CODER:
        raise FormatError(f"unsupported coder {raw.get('coder')!r}")
    if type(group) is not int or not 1 <= group <= 1 << 16:
        raise FormatError("model configuration is corrupt (stream group)")
    for key, cap in LIMITS.items():
        if not 1 <= getattr(cfg, key) <= cap:
            raise FormatError(f"model configuration is out of range ({key})")
    if cfg.n_embd % cfg.n_head or cfg.n_embd // cfg.n_head > 512 or cfg.weight_bits < 2:
        raise FormatError("model configuration is inconsistent")
    if sum(np.prod(s) for s in layout(cfg)[0].values()) > MAX_PARAMS:
        raise FormatError("model configuration is too large")
    return cfg, group


def read_model(config: bytes, weights: bytes) -> tuple[QuantizedModel, int]:
    cfg, group = read_config(config)
    wshapes, anames = layout(cfg)
    n_scales = len(wshapes) + len(anames)
    if len(weights) < 4 * n_scales:
        raise FormatError("weights section is truncated")
    scales = np.frombuffer(weights, dtype="<f4", count=n_scales).astype(float)
    if not np.all((scales >= 2.0**-40) & (scales <= 2.0**20)):  # keeps every intermediate finite
        raise FormatError("weights section is corrupt (scales out of range)")
    codes = decode_tensors(weights[4 * n_scales:], list(wshapes.values()), cfg.weight_qmax)
    qm = QuantizedModel(cfg, dict(zip(wshapes, codes)), dict(zip(wshapes, scales[:len(wshapes)].tolist())),
                        dict(zip(anames, scales[len(wshapes):].tolist())))
    return qm, group


def decompress(sections: dict[Section, bytes], n_bytes: int, device: torch.device, progress: bool = False) -> bytes:
    qm, group = read_model(sections[Section.CONFIG], sections[Section.WEIGHTS])
    n_streams = -(-n_bytes // (qm.cfg.block_size * group))
    if 4 * n_streams > len(sections[Section.DATA]):
        raise FormatError("coded data is too short for the original size")
    streams = arith.unpack_streams(sections[Section.DATA], n_streams)
    return arith.decode(ExactByteGPT(qm, device), streams, n_bytes, group, progress=progress)
