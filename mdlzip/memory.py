"""The memory a decoder needs, computed from an archive's header before anything is allocated.

As xz computes "memory needed" from its block headers (`xz -lvv`, `--memlimit`), mdlzip adds up
what decoding an archive allocates from what its CONFIG declares (FORMAT.md §5): the output, the
coded data's working copy, the adaptive statistics' tables, the integer model and the key/value
cache of the decoder's batch. Decoding is refused above the limit with a `MemoryLimitError`,
before any of it is built; the NEURAL decoder shrinks its batch to fit (the bytes never depend on
it). The figures are upper bounds of the arrays the code allocates, not of the Python process
itself (about 0.2 GB with numpy, numba and torch loaded). No torch or numba here.
"""
from __future__ import annotations

import os
import re

from .codec.layout import DECODE_BATCH
from .container import Method
from .errors import MemoryLimitError, OptionError
from .models.stored import ByteGPTConfig, param_count, weight_layout
from .sections import Coding

DEFAULT_MEMLIMIT = 4 << 30  # a fixed default, so an archive is accepted or refused alike everywhere
UNITS = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30,
         "t": 1 << 40, "tib": 1 << 40}  # binary multiples, as xz reads them
SLACK = 16 << 20  # what is not itemized: zstd's context, lane tables, mixer weights, per-step buffers
TORCH_WORK = 32 << 20  # torch's own working memory on its first model run (measured: 9 MiB)


def parse_memlimit(value: int | str | None) -> int:
    """A limit in bytes (0: none) from an int, 'SIZE[KiB|MiB|GiB|TiB]' or 'N%' of physical memory."""
    if value is None:
        return DEFAULT_MEMLIMIT
    if type(value) is int:
        if value < 0:
            raise OptionError(f"memlimit must be >= 0 bytes (0: no limit), not {value}")
        return value
    if not isinstance(value, str):
        raise OptionError(f"memlimit must be a number of bytes or a size such as '512MiB', not {value!r}")
    text = value.strip().lower()
    if text in ("max", "0"):
        return 0
    if match := re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", text):
        share = float(match[1])
        if not 0 < share <= 100:
            raise OptionError(f"memlimit {value!r}: a percentage must be in (0, 100]")
        return max(1, int(share / 100 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")))
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text)
    if not match or match[2] not in UNITS:
        raise OptionError(f"memlimit {value!r} is not a size such as 512MiB, 4GiB, 50% or 0 (no limit)")
    return int(float(match[1]) * UNITS[match[2]])


def format_size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def model_bytes(cfg: ByteGPTConfig) -> int:
    """The integer model: int16 codes, the float32/64 matrices built from them (at most 8 bytes
    each), and the float64 copies that exist while one matrix is built."""
    largest = max(rows * cols for rows, cols in weight_layout(cfg).values())
    return 10 * param_count(cfg) + 16 * largest


def rows_bytes(cfg: ByteGPTConfig, rows: int) -> int:
    """Key/value cache (float32 keys, float64 values) and one step's activations of `rows` chunks."""
    cache = cfg.n_layer * cfg.block_size * cfg.n_embd * 12
    attention = 64 * cfg.n_head * cfg.block_size  # scores, indices, weights of one layer (and the allocator's slack)
    hidden = max(cfg.hidden(i) for i in range(cfg.n_layer))
    return rows * (cache + attention + 64 * (cfg.n_embd + hidden) + 8 * 256 * 4)


def cm_bytes(coding: Coding, n_bytes: int, data_bytes: int) -> int:
    """The adaptive statistics: their tables, the decoded bytes and their coded-flag bits, the
    output's copy (`decompress` returns bytes; the CLI writes the decoder's array), the coded
    data's copy."""
    return coding.mixer.state_bytes() + 2 * n_bytes + -(-n_bytes // 8) + data_bytes


def neural_rows(coding: Coding, n_bytes: int) -> int:
    """Chunks the NEURAL decoder holds at once by default: whole streams, about DECODE_BATCH
    chunks, never more streams than the archive has."""
    n_streams = max(1, -(-n_bytes // (coding.block * coding.group)))
    return min(max(1, DECODE_BATCH // coding.group), n_streams) * coding.group


def needed(method: Method, n_bytes: int, coding: Coding | None, data_bytes: int, rows: int | None = None) -> dict:
    """Itemized bytes that decoding allocates (the parts add up to the total under 'total')."""
    if coding is None:  # the classical methods: their output; raw LZMA2 grows its output buffer
        parts = {"output": n_bytes}  # (up to twice the output while it grows) beside its dictionary
        if method == Method.XZ:
            parts.update(output=2 * n_bytes, dictionary=min(max(n_bytes, 4096), 1 << 26))
    elif method == Method.CM:
        parts = {"statistics": cm_bytes(coding, n_bytes, data_bytes)}
    else:
        cfg, n_chunks = coding.model, -(-n_bytes // coding.block)
        if method == Method.MIXED:
            rows = min(coding.lanes, n_chunks)
            parts = {"statistics": cm_bytes(coding, n_bytes, data_bytes)}
        else:
            rows = rows or neural_rows(coding, n_bytes)
            parts = {"output": 2 * n_bytes + 8 * rows * coding.block + data_bytes}
        parts.update(model=model_bytes(cfg) + TORCH_WORK, cache=rows_bytes(cfg, rows))
    parts["other"] = SLACK
    return dict(parts, total=sum(parts.values()))


def neural_rows_within(coding: Coding, n_bytes: int, data_bytes: int, limit: int) -> int:
    """The most chunks (whole streams) the NEURAL decoder may hold at once within `limit` (0: none);
    one stream when even that does not fit (the caller's check then refuses it)."""
    rows = neural_rows(coding, n_bytes)
    while limit and rows > coding.group and needed(Method.NEURAL, n_bytes, coding, data_bytes, rows)["total"] > limit:
        rows -= coding.group
    return rows


def check(parts: dict, limit: int) -> None:
    """Raise MemoryLimitError if decoding needs more than `limit` bytes (0: no limit)."""
    if limit and parts["total"] > limit:
        raise MemoryLimitError(f"decoding needs {format_size(parts['total'])} of memory, over the limit of "
                               f"{format_size(limit)} (--memlimit or memlimit= raises it)", parts["total"], limit)
