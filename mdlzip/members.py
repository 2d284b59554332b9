"""The INDEX section of a multi-member archive (FORMAT.md §6.2): members, blocks and records.

Written once, read whole when an archive is opened, and enough to find any record's block, its
coded stream and its place in that block without decoding any data. It is a zstd frame of
varint columns (records per block, record lengths, coded lengths, then each block's check: the
low 16 bits of its CRC-32, as u16; each member has a whole CRC-32), which zstd shrinks to little
where records are regular. A 16-bit check per block keeps one-record blocks small (a CRC-32
would cost about a fifth of a 150-byte log line's code) and still misses a damaged block only
once in 65,536; reading a whole member checks its CRC-32 as well. A reader checks every count
against the bytes left and every sum against the archive before it allocates from them.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import zstandard

from . import varint
from .errors import FormatError
from .records import KINDS, MAX_BLOCK_RECORDS

INDEX_LEVEL = 19  # zstd level of the index frame
MAX_INDEX_BYTES = 1 << 30  # the raw index a reader accepts
ZSTD_MAX_RATIO = 1 << 15  # a zstd frame yields at most 2^15 bytes per byte (FORMAT.md §2)
MAX_NAME_BYTES = 4096  # a member's name (UTF-8), as PATH_MAX
CHECK_MASK = 0xFFFF  # a block's check: the low 16 bits of its CRC-32


@dataclass(frozen=True)
class Member:
    """A file (or stdin) in the archive: its name, its CRC-32, and its blocks (a range of indexes)."""

    name: str
    crc: int
    first_block: int
    n_blocks: int


@dataclass(frozen=True)
class Index:
    """Members, blocks and records of a multi-member archive; the arrays are int64 but `block_check`."""

    kind: str  # how the records were cut (records.KINDS); a reader needs only the lengths
    members: tuple[Member, ...]
    block_records: np.ndarray  # (blocks,) records in each block
    record_lengths: np.ndarray  # (records,) bytes of each record
    coded_lengths: np.ndarray  # (blocks,) bytes of each block's coded stream in DATA
    block_check: np.ndarray  # (blocks,) uint16: the low 16 bits of the CRC-32 of each block's bytes

    @cached_property
    def block_first_record(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.block_records)]).astype(np.int64)

    @cached_property
    def record_starts(self) -> np.ndarray:
        """(records + 1,) offset of each record in the members' bytes, in order; the total last."""
        return np.concatenate([[0], np.cumsum(self.record_lengths)]).astype(np.int64)

    @cached_property
    def block_offsets(self) -> np.ndarray:
        """(blocks + 1,) where each block's stream starts in DATA; DATA's length last."""
        return np.concatenate([[0], np.cumsum(self.coded_lengths)]).astype(np.int64)

    @cached_property
    def record_block(self) -> np.ndarray:
        """(records,) the block of each record."""
        return np.repeat(np.arange(len(self.block_records)), self.block_records)

    @cached_property
    def block_sizes(self) -> np.ndarray:
        """(blocks,) bytes of each block."""
        first = self.block_first_record
        return self.record_starts[first[1:]] - self.record_starts[first[:-1]]

    def member_records(self, m: int) -> tuple[int, int]:
        """(first record, end record) of member m."""
        member = self.members[m]
        first = self.block_first_record
        return int(first[member.first_block]), int(first[member.first_block + member.n_blocks])

    def member_size(self, m: int) -> int:
        lo, hi = self.member_records(m)
        return int(self.record_starts[hi] - self.record_starts[lo])


def build(kind: str, members: list[tuple[str, int]], block_records: list[np.ndarray], record_lengths: np.ndarray,
          coded_lengths: list[int], block_crc: list[int]) -> Index:
    """The index of members given as (name, CRC-32) with `block_records[i]` the records per block of member i."""
    out, first = [], 0
    for (name, crc), blocks in zip(members, block_records):
        out.append(Member(name, crc, first, len(blocks)))
        first += len(blocks)
    return Index(kind, tuple(out), np.concatenate([np.zeros(0, np.int64), *block_records]).astype(np.int64),
                 np.asarray(record_lengths, np.int64), np.asarray(coded_lengths, np.int64),
                 np.asarray(block_crc, np.int64).astype(np.uint32) & CHECK_MASK)


def _varints(values) -> bytes:
    return b"".join(varint.encode(int(v)) for v in values)


def encode(index: Index) -> bytes:
    """The INDEX section: varint raw length, then the zstd frame of the raw index."""
    raw = [_varints([KINDS.index(index.kind), len(index.members), len(index.block_records), len(index.record_lengths)])]
    for m in index.members:
        name = m.name.encode("utf-8", "surrogateescape")
        raw += [varint.encode(len(name)), name, varint.encode(m.n_blocks), m.crc.to_bytes(4, "little")]
    raw += [_varints(index.block_records), _varints(index.record_lengths), _varints(index.coded_lengths),
            index.block_check.astype("<u2").tobytes()]
    body = b"".join(raw)
    return varint.encode(len(body)) + zstandard.ZstdCompressor(level=INDEX_LEVEL).compress(body)


class _Reader:
    """Varints and fields of the raw index, every read checked against its end."""

    def __init__(self, raw: bytes):
        self.raw, self.pos = raw, 0

    def count(self, what: str, each: int = 1) -> int:
        """A count of items that take at least `each` bytes each: no more than the bytes left hold."""
        n, self.pos = varint.decode(self.raw, self.pos, len(self.raw), "the index")
        if n * each > len(self.raw) - self.pos:
            raise FormatError(f"index is corrupt ({what}: {n:,} do not fit)")
        return n

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.raw):
            raise FormatError("index is corrupt (truncated)")
        self.pos += n
        return self.raw[self.pos - n:self.pos]

    def column(self, n: int, what: str) -> np.ndarray:
        values = np.empty(n, np.int64)
        for i in range(n):
            values[i], self.pos = varint.decode(self.raw, self.pos, len(self.raw), f"the index ({what})")
        return values


def decode(section: bytes, original_size: int, data_bytes: int, max_block: int) -> Index:
    """The INDEX of an archive of `original_size` bytes whose DATA has `data_bytes`; every block
    must fit `max_block` lanes and hold no more bytes than its stream can (`coded · 4096 + 1024`)."""
    size, pos = varint.decode(section, 0, len(section), "the index")
    frame = section[pos:]
    if size > MAX_INDEX_BYTES or size > ZSTD_MAX_RATIO * max(1, len(frame)):
        raise FormatError("index is corrupt (its declared size is out of range)")
    try:
        raw = zstandard.ZstdDecompressor().decompress(frame, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise FormatError(f"index is corrupt ({exc})") from None
    if len(raw) != size:
        raise FormatError("index is corrupt (size mismatch)")
    r = _Reader(raw)
    kind = r.count("kind")
    if kind >= len(KINDS):
        raise FormatError("index is corrupt (unknown record kind)")
    n_members, n_blocks, n_records = r.count("members", 6), r.count("blocks", 4), r.count("records")
    members, first = [], 0
    for _ in range(n_members):
        name_len = r.count("name")
        if name_len > MAX_NAME_BYTES:
            raise FormatError("index is corrupt (a member name is too long)")
        name = r.take(name_len).decode("utf-8", "surrogateescape")
        blocks = r.count("blocks of a member", 0)
        members.append(Member(name, int.from_bytes(r.take(4), "little"), first, blocks))
        first += blocks
    if first != n_blocks:
        raise FormatError("index is corrupt (members' blocks do not add up)")
    block_records, record_lengths = r.column(n_blocks, "records per block"), r.column(n_records, "record lengths")
    coded = r.column(n_blocks, "coded lengths")
    block_check = np.frombuffer(r.take(2 * n_blocks), "<u2").astype(np.uint32)
    if r.pos != len(raw):
        raise FormatError("index is corrupt (trailing bytes)")
    index = Index(KINDS[kind], tuple(members), block_records, record_lengths, coded, block_check)
    _check(index, original_size, data_bytes, max_block)
    return index


def _check(index: Index, original_size: int, data_bytes: int, max_block: int) -> None:
    from .sections import MAX_EXPANSION

    if int(index.block_records.sum()) != len(index.record_lengths):
        raise FormatError("index is corrupt (records per block do not add up)")
    if int(index.record_lengths.sum()) != original_size:
        raise FormatError("index is corrupt (record lengths do not add up to the original size)")
    if int(index.coded_lengths.sum()) != data_bytes:
        raise FormatError("index is corrupt (coded lengths do not add up to the data section)")
    first = index.block_first_record
    if (index.block_records < 1).any():
        raise FormatError("index is corrupt (an empty block)")
    nonempty = np.concatenate([[0], np.cumsum(index.record_lengths > 0)])
    lanes = nonempty[first[1:]] - nonempty[first[:-1]]  # the lanes of each block: its non-empty records
    if len(lanes) and int(lanes.max()) > min(max_block, MAX_BLOCK_RECORDS):
        raise FormatError("index is corrupt (a block has more records than the coder's lanes)")
    if (index.block_sizes > MAX_EXPANSION * index.coded_lengths + 1024).any():
        raise FormatError("index is corrupt (a block's coded stream is too short for its bytes)")
