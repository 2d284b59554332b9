"""The .mdlz container: header, section table, sections, payload CRC, footer (FORMAT.md).

Reading validates cheap things first (magic, version, header CRC, sizes, footer, payload CRC), so
no model is built or run for an archive already known to be bad. Every size read from the file is
checked against the bytes that remain and a cap before anything is allocated.

Version 5 is written: flag bit 0 marks a multi-member archive (many files or records sharing one
model, FORMAT.md §6), whose payload CRC covers the sections before DATA and whose DATA is checked
block by block, so that one damaged block leaves the others readable; the config section is
deflated with a preset dictionary (about 10 bytes instead of 200). Version 4 differs only in that
dictionary (and in the cm kernel its configs name), version 3 also in its config, the JSON itself;
both are read alike. Versions 1 (one file) and 2
(multi-member) were written by mdlzip 0.1: their stored, zstd, xz and neural archives still decode;
their cm and mixed coding is refused by its coder id (sections.py), never decoded wrongly.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from enum import IntEnum

from . import varint
from .errors import ChecksumError, FormatError, TruncatedError, UnsupportedVersionError

MAGIC = b"\xfdMDLZ\x00"
FOOTER = b"ZM"
FORMAT_VERSION = 5  # what every archive is written as
JSON_CONFIG = 3  # version 3: as 4, with the config section the JSON itself (read, never written)
DEFLATED_CONFIG = 4  # the first version whose config section is deflated (version 4: cm kernel 3, read)
LEGACY_SINGLE, LEGACY_MEMBERS = 1, 2  # mdlzip 0.1's versions: one file; multi-member (flag MULTI_MEMBER set)
MULTI_MEMBER = 0x01  # flag bit 0: members, an INDEX section, DATA checked per block
MAX_SECTIONS = 8
MAX_ORIGINAL_SIZE = 1 << 40
MIN_ARCHIVE = len(MAGIC) + 6 + 4 + 4 + len(FOOTER)
MAX_CONFIG_BYTES = 1 << 16  # a config's JSON (inflated); a model of 64 layers takes under 1 KiB
# From version 4 a config section is its JSON raw-deflated (RFC 1951) with a preset dictionary:
# typical configs of every model method, so that a config that resembles one costs about 10 bytes
# instead of 200 (a small file's archive paid 1-10 % for it). FORMAT.md 3.1 lists version 4's;
# version 5's is the same with the defaults of cm kernel 4. Neither ever changes.
_CONFIG_DICTIONARY_V4 = b"".join((
    b'{"model":{"block_size":128,"n_layer":2,"n_head":4,"n_embd":64,"mlp_ratio":4,"weight_bits":5},'
    b'"group":64,"coder":"range/constriction/categorical-lazy/precision24/float64"}',
    b'{"model":{"block_size":128,"n_layer":2,"n_head":4,"n_embd":64,"mlp_ratio":4,"weight_bits":5},'
    b'"block":128,"lanes":1024,"mixer":{"hash_bits":26,"match_bits":22,"match_min":8,'
    b'"contexts":["2","3","4","6","word","word_pair","word_skip","column","record"],"limit":255,"lr":6,'
    b'"apm_rate":6},"coder":"mix3/binary32/lanes"}',
    b'{"block":512,"lanes":1,"mixer":{"hash_bits":22,"match_bits":22,"match_min":8,'
    b'"contexts":["2","3","4","word","record"],"limit":255,"lr":6,"apm_rate":6},"coder":"mix3/binary32/records"}',
    b'{"block":128,"lanes":1,"mixer":{"hash_bits":26,"match_bits":22,"match_min":8,'
    b'"contexts":["2","3","4","5","6","7","8","12","word","word_pair","column","record"],"limit":255,"lr":6,'
    b'"apm_rate":6},"coder":"mix3/binary32/lanes"}',
    b'{"block":128,"lanes":1,"mixer":{"hash_bits":26,"match_bits":22,"match_min":8,'
    b'"contexts":["2","3","4","6","word","word_pair","word_skip","column","record"],"limit":255,"lr":6,'
    b'"apm_rate":6},"coder":"mix3/binary32/lanes"}'))
CONFIG_DICTIONARIES = {4: _CONFIG_DICTIONARY_V4,
                       5: _CONFIG_DICTIONARY_V4.replace(b'"lr":6', b'"lr":2').replace(b"mix3", b"mix4")
                       .replace(b'"word_skip","column"', b'"word_skip","word_triple","column"')}


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
    INDEX = 4  # multi-member archives: the members, their blocks and records (FORMAT.md §6)


REQUIRED = {Method.STORED: [Section.PAYLOAD], Method.ZSTD: [Section.PAYLOAD], Method.XZ: [Section.PAYLOAD],
            Method.NEURAL: [Section.CONFIG, Section.WEIGHTS, Section.DATA],
            Method.MIXED: [Section.CONFIG, Section.WEIGHTS, Section.DATA], Method.CM: [Section.CONFIG, Section.DATA]}
# a multi-member archive's sections; MIXED without WEIGHTS is coded with an external model file (§7)
ALLOWED_MEMBERS = {Method.MIXED: ([Section.CONFIG, Section.WEIGHTS, Section.INDEX, Section.DATA],
                                  [Section.CONFIG, Section.INDEX, Section.DATA]),
                   Method.CM: ([Section.CONFIG, Section.INDEX, Section.DATA],)}


@dataclass
class Archive:
    method: Method
    original_size: int
    original_crc: int
    sections: dict[Section, bytes]
    sizes: dict[str, int] = field(default_factory=dict)  # itemized bytes, adding up to the archive size
    members: bool = False  # a multi-member archive (flag bit 0): its DATA is a view, checked per block


def pack(method: Method, original: bytes, sections: list[tuple[Section, bytes]]) -> bytes:
    """Write an archive of `original`. Section order is the order given (REQUIRED[method])."""
    return pack_declared(method, len(original), zlib.crc32(original), sections)


def pack_members(method: Method, size: int, crc: int, sections: list[tuple[Section, bytes]]) -> bytes:
    """Write a multi-member archive (flag MULTI_MEMBER): `size` and `crc` are those of all members'
    bytes in order; DATA, the last section, is left out of the payload CRC (its blocks carry theirs)."""
    return pack_declared(method, size, crc, sections, members=True)


def pack_declared(method: Method, size: int, crc: int, sections: list[tuple[Section, bytes]],
                  members: bool = False) -> bytes:
    """Write an archive that declares `size` original bytes of CRC-32 `crc` (tests forge with it)."""
    return b"".join(pieces(method, size, crc, sections, members))


def pieces(method: Method, size: int, crc: int, sections: list[tuple[Section, bytes]],
           members: bool = False) -> list:
    """The archive as the pieces written one after another: the header, each section's own buffer
    (not copied: a stored input's payload is the input itself), the payload CRC and the footer.
    Their concatenation is `pack_declared`'s archive."""
    sections = _stored(sections)
    payload_crc = 0
    for kind, body in sections:
        if not (members and kind == Section.DATA):
            payload_crc = zlib.crc32(body, payload_crc)
    return [_header(method, size, crc, sections, members), *(body for _, body in sections),
            payload_crc.to_bytes(4, "little") + FOOTER]


def _stored(sections: list[tuple[Section, bytes]]) -> list[tuple[Section, bytes]]:
    """The sections as the archive stores them: the config deflated (deflate_config), the others as given."""
    return [(kind, deflate_config(body) if kind == Section.CONFIG else body) for kind, body in sections]


def deflate_config(config: bytes, version: int = FORMAT_VERSION) -> bytes:
    """A config's JSON as `version` (4 on) stores it: raw deflate, level 9, with that version's
    dictionary (CONFIG_DICTIONARIES). (Another zlib build may choose other bytes for the same JSON;
    every reader inflates them alike.)"""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, zdict=CONFIG_DICTIONARIES[version])
    return packer.compress(config) + packer.flush()


def inflate_config(body: bytes, version: int = FORMAT_VERSION) -> bytes:
    """The JSON of a config section of `version` (4 on): one raw deflate stream that ends where the
    section does and inflates to at most MAX_CONFIG_BYTES (checked as it inflates)."""
    unpacker = zlib.decompressobj(-15, zdict=CONFIG_DICTIONARIES[version])
    try:
        config = unpacker.decompress(body, MAX_CONFIG_BYTES + 1)
    except zlib.error as exc:
        raise FormatError(f"model configuration is corrupt ({exc})") from None
    if len(config) > MAX_CONFIG_BYTES:
        raise FormatError(f"model configuration is corrupt (over {MAX_CONFIG_BYTES} bytes)")
    if not unpacker.eof or unpacker.unused_data:
        raise FormatError("model configuration is corrupt (not one whole deflate stream)")
    return config


def _header(method: Method, size: int, crc: int, sections: list[tuple[Section, bytes]], members: bool) -> bytes:
    """Magic, header fields, section table and the header's CRC."""
    head = bytes([FORMAT_VERSION, MULTI_MEMBER if members else 0, int(method), len(sections)]) + varint.encode(size)
    head += crc.to_bytes(4, "little")
    for kind, body in sections:
        head += bytes([int(kind)]) + varint.encode(len(body))
    return MAGIC + head + zlib.crc32(head).to_bytes(4, "little")


def described(method: Method, size: int, crc: int, sections: list[tuple[Section, bytes]]) -> Archive:
    """The Archive that `pieces(method, size, crc, sections)` writes, as `unpack` would read it."""
    stored = _stored(sections)
    return Archive(method, size, crc, dict(sections), _sizes(len(_header(method, size, crc, stored, False)),
                                                              dict(stored)))


def _sizes(header_bytes: int, sections: dict) -> dict[str, int]:
    """The itemized bytes of an archive whose header (magic to header CRC) takes `header_bytes`."""
    sizes = {"header": header_bytes - 8 + len(FOOTER), "checksums": 12}
    sizes.update({k.name.lower(): len(v) for k, v in sections.items()})
    return sizes


def unpack(blob: bytes) -> Archive:
    """Parse and validate one archive; raises a FormatError subclass on any defect. `blob` may be a
    memoryview of a mapped file: only the sections before a dataset's DATA are copied."""
    return _unpack(memoryview(blob), whole=True)[0]


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
    if version not in (LEGACY_SINGLE, LEGACY_MEMBERS, JSON_CONFIG, DEFLATED_CONFIG, FORMAT_VERSION):
        raise UnsupportedVersionError(f"format version {version} is not supported (this mdlzip reads "
                                      f"{LEGACY_SINGLE} to {FORMAT_VERSION})")
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
    members = bool(flags & MULTI_MEMBER)
    if flags & ~MULTI_MEMBER:
        raise FormatError(f"reserved flag bits are set (0x{flags:02x})")
    if version < JSON_CONFIG and members != (version == LEGACY_MEMBERS):
        raise FormatError(f"flags 0x{flags:02x} do not match format version {version}")
    if size > MAX_ORIGINAL_SIZE:
        raise FormatError("header is corrupt (original size too large)")
    try:
        method = Method(method)
        kinds = [Section(k) for k, _ in table]
    except ValueError:
        raise FormatError("unknown method or section type") from None
    if kinds not in (ALLOWED_MEMBERS.get(method, ()) if members else (REQUIRED[method],)):
        raise FormatError(f"sections {[k.name for k in kinds]} do not match method {method.name}"
                          + (" in a multi-member archive" if members else ""))
    expected = pos + sum(n for _, n in table) + 4 + len(FOOTER)
    if len(blob) < expected:
        raise TruncatedError("archive is truncated")
    if len(blob) > expected and whole:
        raise FormatError("trailing bytes after the archive")
    end = expected - len(FOOTER) - 4  # start of the payload CRC
    if blob[end + 4:expected] != FOOTER:
        raise FormatError("archive is corrupt (bad end marker)")
    checked_end = end - table[-1][1] if members else end  # multi-member: DATA (last) is checked per block
    if zlib.crc32(blob[pos:checked_end]) != int.from_bytes(blob[end:end + 4], "little"):
        raise ChecksumError("archive data is corrupt (CRC mismatch)")
    sections = {}
    for kind, (_, n) in zip(kinds, table):
        view = blob[pos:pos + n]
        sections[kind] = view if kind == Section.DATA else bytes(view)  # the coded data is not copied
        pos += n
    sizes = _sizes(header_bytes, sections)
    if version >= DEFLATED_CONFIG and Section.CONFIG in sections:
        sections[Section.CONFIG] = inflate_config(sections[Section.CONFIG], version)
    return Archive(method, size, original_crc, sections, sizes, members), expected
