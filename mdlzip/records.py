"""Records: how a member's bytes are cut into records, and records grouped into blocks.

A record is the unit a reader asks for (`mdlzip cat --record`, `open_dataset(...)[i]`); a block is
the unit that is coded (one arithmetic-coded stream whose adaptive statistics its records share,
each record one lane, FORMAT.md §6) and so the unit a reader decodes. The cut is stored as
record lengths, so a reader never needs to know how it was made. No numba, no torch.
"""
from __future__ import annotations

import re

import numpy as np

from .errors import OptionError

FILES = "files"  # each member is one record (a file)
LINES = "lines"  # newline-terminated records: JSON lines, logs (the last may lack its newline)
CSV = "csv"  # rows: a newline inside double quotes does not end a row (RFC 4180 quoting)
FIXED = "fixed"  # records of a fixed size (the last may be shorter)
RECORDS = "records"  # records given one by one (the API's compress_dataset(..., records_kind="records"))
KINDS = (FILES, LINES, CSV, FIXED, RECORDS)  # as the index numbers them
# Bytes per block; 0 = one record per block. Measured on the HDFS log (README, "Datasets"): one record
# per block fetches a record in 2.2 ms; 4 KiB blocks are 18 % smaller but take 41 ms (target: 20 ms).
DEFAULT_BLOCK_SIZE = 0
MAX_BLOCK_RECORDS = 1 << 14  # records per block: the decoder's lanes (sections.MAX_LANES)
_SIZE = re.compile(r"(\d+)\s*([kmg]?)(i?b?)", re.IGNORECASE)


def parse_size(text: str | int, what: str) -> int:
    """'2k', '64KiB', '1M', '4096' -> bytes (binary multiples, as xz and zstd read them)."""
    if type(text) is int:
        value = text
    else:
        match = _SIZE.fullmatch(str(text).strip())
        if not match:
            raise OptionError(f"{what} {text!r} is not a size such as 4096, 2k or 64KiB")
        value = int(match[1]) << {"": 0, "k": 10, "m": 20, "g": 30}[match[2].lower()]
    if value < 0:
        raise OptionError(f"{what} must be >= 0, not {value}")
    return value


def parse_kind(records: str | int | None) -> tuple[str, int]:
    """(kind, fixed size) of a `records=` option: None (files), 'lines', 'csv', 'records' (given one
    by one), or a size for FIXED."""
    if records is None or records == FILES:
        return FILES, 0
    if records in (LINES, CSV, RECORDS):
        return records, 0
    size = parse_size(records, "records")
    if size < 1:
        raise OptionError("records of a fixed size must be at least 1 byte")
    return FIXED, size


def split(data: bytes, kind: str, size: int = 0) -> np.ndarray:
    """The lengths (int64) of the records of `data`, which they tile in order; none for empty data."""
    n = len(data)
    if n == 0:
        return np.zeros(0, np.int64)
    if kind == FILES:
        return np.array([n], np.int64)
    if kind == FIXED:
        return np.minimum(size, n - size * np.arange(-(-n // size))).astype(np.int64)
    arr = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(arr == 10) + 1  # one past each newline
    if kind == CSV:  # a newline ends a row only outside quotes: after an even number of '"' ("" escapes one)
        quotes_before = np.cumsum(arr == ord('"'))[ends - 1]
        ends = ends[quotes_before % 2 == 0]
    if not len(ends) or ends[-1] != n:
        ends = np.append(ends, n)
    return np.diff(ends, prepend=0).astype(np.int64)


def group(lengths: np.ndarray, block_size: int) -> np.ndarray:
    """Records per block (int64): consecutive records until a block holds at least `block_size`
    bytes (0: one record per block) or MAX_BLOCK_RECORDS records; a record is never split."""
    if block_size <= 0:
        return np.ones(len(lengths), np.int64)
    counts, count, held = [], 0, 0
    for length in lengths.tolist():
        count, held = count + 1, held + length
        if held >= block_size or count == MAX_BLOCK_RECORDS:
            counts.append(count)
            count = held = 0
    if count:
        counts.append(count)
    return np.array(counts, np.int64)
