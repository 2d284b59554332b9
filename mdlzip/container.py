"""The .mdlz container: header, section table, sections, payload CRC, footer (FORMAT.md).

Reading validates cheap things first (magic, version, header CRC, sizes, footer, payload CRC), so
no model is built or run for an archive already known to be bad. Every size read from the file is
checked against the bytes that remain and a cap before anything is allocated.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from enum import IntEnum

from . import varint
from .errors import ChecksumError, FormatError, TruncatedError, UnsupportedVersionError

MAGIC = b"\xfdMDLZ\x00"
FOOTER = b"ZM"
FORMAT_VERSION = 1
MAX_SECTIONS = 8
MAX_ORIGINAL_SIZE = 1 << 40
MIN_ARCHIVE = len(MAGIC) + 6 + 4 + 4 + len(FOOTER)


class Method(IntEnum):
    """How the original bytes are coded."""

    STORED = 0
    ZSTD = 1
    XZ = 2
    NEURAL = 3  # the transformer alone (pure two-part code)
    MIXED = 4  # the transformer mixed with adaptive statistics
    CM = 5  # adaptive statistics alone (context mixing, no stored model)


class Section(IntEnum):
    PAYLOAD = 0  # classical methods: the coded bytes
    CONFIG = 1  # neural, mixed, cm: UTF-8 JSON of the model and coder configuration
    WEIGHTS = 2  # neural, mixed: scales and entropy-coded sparse weight codes
    DATA = 3  # neural: range-coded streams; mixed, cm: the binary arithmetic code


REQUIRED = {Method.STORED: [Section.PAYLOAD], Method.ZSTD: [Section.PAYLOAD], Method.XZ: [Section.PAYLOAD],
            Method.NEURAL: [Section.CONFIG, Section.WEIGHTS, Section.DATA],
            Method.MIXED: [Section.CONFIG, Section.WEIGHTS, Section.DATA], Method.CM: [Section.CONFIG, Section.DATA]}


@dataclass
class Archive:
    method: Method
    original_size: int
    original_crc: int
    sections: dict[Section, bytes]
    sizes: dict[str, int] = field(default_factory=dict)  # itemized bytes, adding up to the archive size


def pack(method: Method, original: bytes, sections: list[tuple[Section, bytes]]) -> bytes:
    """Write an archive of `original`. Section order is the order given (REQUIRED[method])."""
    return pack_declared(method, len(original), zlib.crc32(original), sections)


def pack_declared(method: Method, size: int, crc: int, sections: list[tuple[Section, bytes]]) -> bytes:
    """Write an archive that declares `size` original bytes of CRC-32 `crc` (tests forge with it)."""
    head = bytes([FORMAT_VERSION, 0, int(method), len(sections)]) + varint.encode(size)
    head += crc.to_bytes(4, "little")
    for kind, body in sections:
        head += bytes([int(kind)]) + varint.encode(len(body))
    payload = b"".join(body for _, body in sections)
    return b"".join([MAGIC, head, zlib.crc32(head).to_bytes(4, "little"), payload,
                     zlib.crc32(payload).to_bytes(4, "little"), FOOTER])


def unpack(blob: bytes) -> Archive:
    """Parse and validate one archive; raises a FormatError subclass on any defect."""
    archive, end = _unpack(bytes(blob), whole=True)
    return archive


def unpack_all(blob: bytes) -> list[Archive]:
    """The archives of a file that holds one or several back to back (as `cat a.mdlz b.mdlz`
    makes, and `mdlzip compress -c a b`), each validated."""
    blob, archives, pos = memoryview(bytes(blob)), [], 0  # views: no member is copied to be parsed
    while True:
        try:
            archive, end = _unpack(blob[pos:], whole=False)
        except FormatError:
            if archives and blob[pos:pos + 1] != MAGIC[:1]:
                raise FormatError(f"trailing bytes after archive {len(archives)} (not another archive)") from None
            raise
        archives.append(archive)
        pos += end
        if pos == len(blob):
            return archives


def _unpack(blob: bytes | memoryview, whole: bool) -> tuple[Archive, int]:
    """The archive at the start of `blob` and its length; `whole`: it must be all of `blob`."""
    if len(blob) < len(MAGIC) or blob[:len(MAGIC)] != MAGIC:
        if MAGIC.startswith(blob[:len(MAGIC)]) and blob:
            raise TruncatedError("archive is truncated (inside the magic)")
        raise FormatError("not an .mdlz archive (bad magic)")
    if len(blob) < MIN_ARCHIVE:
        raise TruncatedError("archive is truncated")
    version = blob[6]
    if version != FORMAT_VERSION:
        raise UnsupportedVersionError(f"format version {version} is not supported (this mdlzip reads {FORMAT_VERSION})")
    end = len(blob) - len(FOOTER) - 4 if whole else len(blob)  # header fields end before this
    flags, method, n_sections = blob[7], blob[8], blob[9]
    size, pos = varint.decode(blob, 10, end, "the header")
    if pos + 4 > end:
        raise TruncatedError("archive is truncated (inside the header)")
    original_crc = int.from_bytes(blob[pos:pos + 4], "little")
    pos += 4
    if n_sections > MAX_SECTIONS:
        raise FormatError("header is corrupt (too many sections)")
    table = []
    for _ in range(n_sections):
        if pos >= end:
            raise TruncatedError("archive is truncated (inside the section table)")
        kind = blob[pos]
        length, pos = varint.decode(blob, pos + 1, end, "the section table")
        table.append((kind, length))
    if pos + 4 > end:
        raise TruncatedError("archive is truncated (inside the header)")
    if zlib.crc32(blob[6:pos]) != int.from_bytes(blob[pos:pos + 4], "little"):
        if whole and blob[-len(FOOTER):] != FOOTER:
            raise TruncatedError("archive is truncated (no end marker)")
        raise FormatError("header is corrupt (CRC mismatch)")
    pos += 4
    header_bytes = pos
    if flags != 0:
        raise FormatError(f"reserved flag bits are set (0x{flags:02x})")
    if size > MAX_ORIGINAL_SIZE:
        raise FormatError("header is corrupt (original size too large)")
    try:
        method = Method(method)
        kinds = [Section(k) for k, _ in table]
    except ValueError:
        raise FormatError("unknown method or section type") from None
    if kinds != REQUIRED[method]:
        raise FormatError(f"sections {[k.name for k in kinds]} do not match method {method.name}")
    expected = pos + sum(n for _, n in table) + 4 + len(FOOTER)
    if len(blob) < expected:
        raise TruncatedError("archive is truncated")
    if len(blob) > expected and whole:
        raise FormatError("trailing bytes after the archive")
    end = expected - len(FOOTER) - 4  # start of the payload CRC
    if blob[end + 4:expected] != FOOTER:
        raise FormatError("archive is corrupt (bad end marker)")
    if zlib.crc32(blob[pos:end]) != int.from_bytes(blob[end:end + 4], "little"):
        raise ChecksumError("archive data is corrupt (CRC mismatch)")
    sections = {}
    for kind, (_, n) in zip(kinds, table):
        sections[kind] = bytes(blob[pos:pos + n])
        pos += n
    sizes = {"header": header_bytes - 8 + len(FOOTER), "checksums": 12}
    sizes.update({k.name.lower(): len(v) for k, v in sections.items()})
    return Archive(method, size, original_crc, sections, sizes), expected
