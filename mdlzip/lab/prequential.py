"""Prequential (online) code length: each block coded by a model trained on everything before it.

The code of Blier & Ollivier (2018) and Voita & Titov (2020), with mdlzip's own training and coding:
the first block is sent as is (8 bits per byte); block k >= 1, bytes [f*2^(k-1), f*2^k), is
range-coded under the integer-exact model that mdlzip's training at the given level produces from
the bytes before it (the transformer alone, as the pure two-part code). Nothing is stored for the
models: a decoder retrains each one from the bytes it has already decoded. The lengths are the
bits of an actual encoding (`mdlzip.codec.arith.encode`, as the archive's data
section), not a sum of -log2 p.

    result = prequential_code_length(data, level=1)
    result.bits_per_byte, [b.coded_bytes for b in result.blocks]
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from .. import runtime
from ..codec import arith
from ..codec.layout import STREAM_GROUP
from ..errors import OptionError
from ..levels import DEFAULT_LEVEL, check_level, settings
from ..models.exact import ExactByteGPT
from ..options import CompressOptions
from ..training.train import train_quantized

LABEL = "bits of an actual encoding"


@dataclass(frozen=True)
class Block:
    start: int
    end: int
    coded_bytes: int  # the block's code: stored bytes for the first, range-coded streams after
    train_seconds: float = 0.0

    @property
    def bits_per_byte(self) -> float:
        return 8 * self.coded_bytes / (self.end - self.start)


@dataclass
class PrequentialResult:
    n_bytes: int
    level: int
    blocks: list[Block] = field(default_factory=list)
    label: str = LABEL

    @property
    def total_bytes(self) -> int:
        return sum(b.coded_bytes for b in self.blocks)

    @property
    def bits_per_byte(self) -> float:
        return 8 * self.total_bytes / self.n_bytes if self.n_bytes else 0.0

    def to_dict(self) -> dict:
        return {"n_bytes": self.n_bytes, "level": self.level, "label": self.label, "total_bytes": self.total_bytes,
                "bits_per_byte": self.bits_per_byte,
                "blocks": [{"start": b.start, "end": b.end, "coded_bytes": b.coded_bytes,
                            "bits_per_byte": b.bits_per_byte, "train_seconds": b.train_seconds} for b in self.blocks]}


def block_bounds(n_bytes: int, first_block: int) -> list[tuple[int, int]]:
    """[0, f), [f, 2f), [2f, 4f), ... cut at n_bytes."""
    if first_block < 1:
        raise ValueError("first_block must be at least 1")
    bounds, start, end = [], 0, first_block
    while start < n_bytes:
        bounds.append((start, min(end, n_bytes)))
        start, end = end, 2 * end
    return bounds


def coded_size(model: ExactByteGPT, block: bytes) -> int:
    """Bytes of the range-coded block under `model`, as an archive's data section holds them."""
    return len(arith.encode(model, block, STREAM_GROUP))


def prequential_code_length(data: bytes, level: int = DEFAULT_LEVEL, first_block: int = 4096,
                            **options) -> PrequentialResult:
    """The prequential code length of `data` (see the module docstring). The options are those of
    `mdlzip.compress`: the training ones (regularizer, alpha, ...) apply to every training, device
    and threads to where it runs; the ones that only concern a two-part archive (pure, model,
    fallback, verify, lump_eps) are ignored."""
    opts = CompressOptions.from_keywords("prequential_code_length", options)
    if opts.alpha == "auto":
        raise OptionError("alpha='auto' is not supported by the prequential code")
    check_level(level)
    result = PrequentialResult(len(data), level)
    with runtime.torch_threads(opts.threads):
        dev = runtime.resolve_device(opts.device)
        for start, end in block_bounds(len(data), first_block):
            if start == 0:
                result.blocks.append(Block(start, end, end))  # 8 bits per byte, no model yet
                continue
            t0 = time.perf_counter()
            plan = settings(level, start, **opts.train_overrides())
            qm = train_quantized(data[:start], plan.model, plan.train, dev, opts.progress).qm
            exact = ExactByteGPT(qm, dev)
            result.blocks.append(Block(start, end, coded_size(exact, data[start:end]), time.perf_counter() - t0))
    return result
