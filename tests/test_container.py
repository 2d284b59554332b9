"""The .mdlz container: layout, validation order and the specific error of each defect."""
from __future__ import annotations

import zlib

import pytest

from mdlzip import container, varint
from mdlzip.container import MAGIC, Method, Section
from mdlzip.errors import ChecksumError, FormatError, TruncatedError, UnsupportedVersionError

ORIGINAL = b"the original bytes " * 20


def archive() -> bytes:
    return container.pack(Method.NEURAL, ORIGINAL, [(Section.CONFIG, b"{}"), (Section.WEIGHTS, b"w" * 40),
                                                    (Section.DATA, b"d" * 300)])


def test_round_trip_and_itemized_sizes():
    blob = archive()
    a = container.unpack(blob)
    assert a.method == Method.NEURAL and a.original_size == len(ORIGINAL)
    assert a.sections[Section.DATA] == b"d" * 300
    assert sum(a.sizes.values()) == len(blob)
    assert blob.startswith(MAGIC) and blob.endswith(b"ZM") and blob[0] >= 0x80


def test_every_truncation_is_reported_as_truncated():
    blob = archive()
    for n in range(1, len(blob)):
        with pytest.raises(TruncatedError):
            container.unpack(blob[:n])


def test_every_bit_flip_is_detected():
    blob = archive()
    for i in range(len(blob) * 8):
        flipped = bytearray(blob)
        flipped[i // 8] ^= 1 << (i % 8)
        with pytest.raises(FormatError):
            container.unpack(bytes(flipped))


def test_specific_errors():
    blob = bytearray(archive())
    with pytest.raises(FormatError, match="bad magic"):
        container.unpack(b"PK\x03\x04" + bytes(blob[4:]))
    newer = bytearray(blob)
    newer[6] = container.FORMAT_VERSION + 1
    with pytest.raises(UnsupportedVersionError):
        container.unpack(bytes(newer))
    with pytest.raises(FormatError, match="trailing"):
        container.unpack(bytes(blob) + b"x")
    payload = bytearray(blob)
    payload[-10] ^= 1
    with pytest.raises(ChecksumError):
        container.unpack(bytes(payload))


@pytest.mark.parametrize("version,flags,message", [(1, 0x02, "reserved"), (1, 0x01, "do not match format version 1"),
                                                     (2, 0x00, "do not match format version 2"), (2, 0x81, "reserved"),
                                                     (3, 0x02, "reserved"), (4, 0x02, "reserved")])
def test_flags_must_match_the_version(version, flags, message):
    blob = container.pack(Method.STORED, b"x", [(Section.PAYLOAD, b"x")])
    # rebuild the header with these flags and a matching CRC: still refused
    head = bytearray(blob[6:blob.index(b"x") - 4])
    head[0], head[1] = version, flags
    forged = MAGIC + bytes(head) + zlib.crc32(bytes(head)).to_bytes(4, "little") + blob[blob.index(b"x"):]
    with pytest.raises(FormatError, match=message):
        container.unpack(forged)


def test_a_multi_member_archive_leaves_data_out_of_the_payload_crc():
    parts = [(Section.CONFIG, b"{}"), (Section.INDEX, b"i" * 9), (Section.DATA, b"d" * 50)]
    blob = container.pack_members(Method.CM, 7, 0, parts)
    assert blob[6:8] == bytes([container.FORMAT_VERSION, container.MULTI_MEMBER])
    damaged = bytearray(blob)
    damaged[-10] ^= 1  # inside DATA: the blocks' own checks find it, not the container
    a = container.unpack(bytes(damaged))
    assert a.members and bytes(a.sections[Section.DATA]) != b"d" * 50
    index_damaged = bytearray(blob)
    index_damaged[-60] ^= 1  # inside INDEX
    with pytest.raises(ChecksumError):
        container.unpack(bytes(index_damaged))
    with pytest.raises(FormatError, match="multi-member"):
        container.unpack(container.pack_members(Method.STORED, 1, 0, [(Section.PAYLOAD, b"x")]))


def test_section_lengths_larger_than_the_file_are_refused_before_allocation():
    huge = container.pack(Method.STORED, b"", [(Section.PAYLOAD, b"")])
    head = bytearray(huge[6:-10])
    head[-1] = 0x7F  # payload length 127 while the file holds none
    forged = MAGIC + bytes(head) + zlib.crc32(bytes(head)).to_bytes(4, "little") + huge[-6:]
    with pytest.raises(TruncatedError):
        container.unpack(forged)


def _cm_archive(config: bytes, version: int = container.FORMAT_VERSION, stored: bytes | None = None) -> bytes:
    """A CM archive whose config section holds `stored` (default: `config` as the version stores it),
    the header and payload CRCs made to match."""
    body = stored if stored is not None else (container.deflate_config(config, version) if version > 3 else config)
    sections = [(Section.CONFIG, body), (Section.DATA, b"d" * 5)]
    head = bytes([version, 0, int(Method.CM), 2]) + bytes([7]) + (0).to_bytes(4, "little")
    head += b"".join(bytes([int(k)]) + varint.encode(len(b)) for k, b in sections)
    payload = b"".join(b for _, b in sections)
    return (MAGIC + head + zlib.crc32(head).to_bytes(4, "little") + payload
            + zlib.crc32(payload).to_bytes(4, "little") + container.FOOTER)


def test_version_4_deflates_the_config_and_version_3_stores_it_as_json():
    config = b'{"block":128,"lanes":1,"mixer":{"hash_bits":19}}'
    blob = container.pack(Method.CM, b"x" * 7, [(Section.CONFIG, config), (Section.DATA, b"d" * 5)])
    a = container.unpack(blob)
    assert a.sections[Section.CONFIG] == config  # readers see the JSON ...
    assert a.sizes["config"] == len(container.deflate_config(config)) < len(config) // 2  # ... the size is what is stored
    assert sum(a.sizes.values()) == len(blob)
    parts = [(Section.CONFIG, config), (Section.DATA, b"d" * 5)]
    assert container.described(Method.CM, 7, zlib.crc32(b"x" * 7), parts).sizes == a.sizes
    assert container.unpack(_cm_archive(config, version=3)).sections[Section.CONFIG] == config


def test_each_version_inflates_its_config_with_its_own_dictionary():
    config = (b'{"block":128,"lanes":1,"mixer":{"hash_bits":26,"match_bits":19,"match_min":8,'
              b'"contexts":["2","3","4","6","word","word_pair","word_skip","word_triple","column","record"],'
              b'"limit":255,"lr":2,"apm_rate":6},"coder":"mix4/binary32/lanes"}')
    v4, v5 = (container.deflate_config(config, v) for v in (4, 5))
    assert len(v5) < len(v4)  # version 5's dictionary holds kernel 4's defaults
    assert container.unpack(_cm_archive(config, version=4)).sections[Section.CONFIG] == config
    assert container.unpack(_cm_archive(config, version=5)).sections[Section.CONFIG] == config
    assert container.unpack(_cm_archive(b"", version=5, stored=v4)).sections[Section.CONFIG] != config


@pytest.mark.parametrize("stored,message", [
    (b"{}", "corrupt"),  # not deflate: JSON stored as version 3 would
    (None, "not one whole deflate stream"),  # cut short: filled in below
    (b"", "not one whole deflate stream"),
])
def test_a_version_4_config_that_does_not_inflate_is_refused(stored, message):
    whole = container.deflate_config(b'{"block":1,"lanes":1}')
    if stored is None:
        stored = whole[:-2]
    with pytest.raises(FormatError, match=message):
        container.unpack(_cm_archive(b"", stored=stored))
    with pytest.raises(FormatError, match="not one whole deflate stream"):  # bytes after the stream's end
        container.unpack(_cm_archive(b"", stored=whole + b"\x00"))


def test_a_config_that_inflates_past_the_cap_is_refused_as_it_inflates():
    bomb = container.deflate_config(b" " * (container.MAX_CONFIG_BYTES + 1))
    with pytest.raises(FormatError, match="over 65536 bytes"):
        container.unpack(_cm_archive(b"", stored=bomb))
