"""Multi-member archives (FORMAT.md §6): members and records round-trip, each block reads alone,
forged indexes are refused before anything is allocated from them."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import mdlzip
from conftest import log_lines
from mdlzip import container, members, records
from mdlzip.container import Section
from mdlzip.dataset import compress_dataset, compress_dataset_with_report, open_dataset
from mdlzip.errors import ChecksumError, FormatError, OptionError


@pytest.fixture(scope="module")
def lines() -> bytes:
    return log_lines(120)


@pytest.fixture(scope="module")
def cm_archive(lines) -> bytes:
    return compress_dataset([("log.txt", lines)], 1, records_kind="lines", block_size=0, model=False)


def test_records_cut_as_asked():
    assert records.split(b"a\nbb\n\nccc", records.LINES).tolist() == [2, 3, 1, 3]
    assert records.split(b'x,"a\nb"\ny,z\n', records.CSV).tolist() == [8, 4]  # a quoted newline stays in its row
    assert records.split(b'x,"say ""hi""\n"\nq\n', records.CSV).tolist() == [16, 2]
    assert records.split(b"abcdefg", records.FIXED, 3).tolist() == [3, 3, 1]
    assert records.split(b"", records.LINES).tolist() == []
    assert records.group(np.array([5, 5, 5, 5, 5]), 10).tolist() == [2, 2, 1]
    assert records.group(np.array([5, 5, 5]), 0).tolist() == [1, 1, 1]
    assert records.parse_size("2k", "x") == 2048 and records.parse_size("64KiB", "x") == 65536
    with pytest.raises(OptionError):
        records.parse_size("2 kilo", "x")


def test_every_record_round_trips_and_reads_alone(lines, cm_archive):
    expected = lines.splitlines(keepends=True)
    with open_dataset(cm_archive) as ds:
        assert len(ds) == len(expected) and ds.names == ["log.txt"]
        assert list(ds) == expected
        assert ds[7] == expected[7] and ds[-1] == expected[-1] and ds[10:13] == expected[10:13]
        assert ds[::40] == expected[::40]
        with pytest.raises(IndexError):
            ds[len(expected)]
        assert ds.member("log.txt") == lines
    assert mdlzip.decompress(cm_archive) == lines
    info = mdlzip.info(cm_archive)
    assert (info.members, info.records, info.blocks) == (1, len(expected), len(expected))
    assert sum(info.sizes.values()) == len(cm_archive) and set(info.sizes) >= {"index", "data"}


@pytest.mark.parametrize("kind,block_size", [("csv", 64), (7, 0), (None, 0), ("lines", 1 << 20)])
def test_kinds_and_block_sizes_round_trip(kind, block_size):
    files = [("a.csv", b'id,text\n1,"two\nlines"\n2,plain\n'), ("b.bin", bytes(range(256)) * 3), ("empty", b"")]
    archive = compress_dataset(files, 1, records_kind=kind, block_size=block_size, model=False)
    with open_dataset(archive) as ds:
        assert [ds.member(name) for name, _ in files] == [data for _, data in files]
        assert b"".join(ds) == b"".join(data for _, data in files)
    assert mdlzip.decompress(archive) == b"".join(data for _, data in files)


def test_blocks_coded_on_several_threads_give_the_same_archive(lines):
    """One input cut into fixed blocks (what `--records SIZE` asks for): coded on two threads the
    archive is byte for byte the one thread's, and decodes on either."""
    data = lines * 3
    one, two = (compress_dataset([("big.log", data)], 1, records_kind=4096, model=False, threads=t) for t in (1, 2))
    assert one == two and mdlzip.info(one).blocks == -(-len(data) // 4096)
    assert mdlzip.decompress(two, threads=2) == data == mdlzip.decompress(two, threads=1)


def test_blocks_decoded_at_once_only_as_many_as_the_memory_limit_holds(lines):
    from mdlzip.dataset import block_memory

    data = lines * 3
    archive = compress_dataset([("big.log", data)], 1, records_kind=4096, model=False)
    with open_dataset(archive, threads=2, memlimit=0) as ds:
        per_block = block_memory(ds.method, ds.coding, ds.index)["total"]
        assert ds._workers() == 2  # no limit
    with open_dataset(archive, threads=2, memlimit=per_block + len(data)) as ds:
        assert ds._workers() == 1 and ds.read_all() == data  # one block's figure beside the output
    with open_dataset(archive, threads=2, memlimit=2 * per_block + len(data)) as ds:
        assert ds._workers() == 2


def test_in_order_yields_in_order_and_stays_ahead_by_a_bound():
    import threading
    import time

    from mdlzip.runtime import in_order

    started, lock = [], threading.Lock()

    def work(i):
        with lock:
            started.append(i)
        time.sleep(0.002 * (i % 3))  # finishing out of order
        return i * i

    out = []
    for value in in_order(work, range(20), 2, 3):
        with lock:
            assert len(started) <= len(out) + 1 + 2 * 3  # never more than ahead x workers beyond the consumer
        out.append(value)
    assert out == [i * i for i in range(20)]
    assert list(in_order(work, [4, 5], 1, 3)) == [16, 25]


def test_empty_records_and_members():
    items = [b"", b"first", b"", b"", b"second record", b""]
    archive = compress_dataset(items, 1, records_kind="records", block_size=8, model=False, verify=True)
    with open_dataset(archive) as ds:
        assert list(ds) == items
    nothing = compress_dataset([("empty", b"")], 1, model=False)
    with open_dataset(nothing) as ds:
        assert len(ds) == 0 and ds.member("empty") == b""
    assert mdlzip.decompress(nothing) == b""


def test_with_a_trained_model_every_record_decodes(one_thread):
    data = log_lines(60, seed=3)
    archive, report = compress_dataset_with_report([("log", data)], 1, records_kind="lines", block_size=0,
                                                   model=True)
    assert set(report.candidates) == {"mixed", "cm"} and report.archive_bytes == len(archive)
    assert report.archive_bytes == min(report.candidates.values())
    mixed = container.unpack(archive)
    with open_dataset(archive) as ds:
        assert list(ds) == data.splitlines(keepends=True)
    assert mixed.members and mdlzip.decompress(archive) == data


def _blocks_of(archive: bytes):
    a = container.unpack(archive)
    from mdlzip.dataset import read_index
    from mdlzip.sections import read_coding

    return a, read_index(a, read_coding(a.method, a.sections, a.original_size, members=True))


def test_a_damaged_block_leaves_the_others_readable(lines, cm_archive):
    a, index = _blocks_of(cm_archive)
    start = len(cm_archive) - 6 - len(a.sections[Section.DATA])  # DATA ends before the payload CRC and footer
    damaged = bytearray(cm_archive)
    damaged[start + int(index.block_offsets[3]) + 1] ^= 0x55  # inside block 3's stream
    expected = lines.splitlines(keepends=True)
    with open_dataset(bytes(damaged)) as ds:
        assert ds[2] == expected[2] and ds[4] == expected[4]  # their blocks never touch block 3's bytes
        with pytest.raises((ChecksumError, FormatError)):
            ds[3]
    with pytest.raises((ChecksumError, FormatError)):
        mdlzip.decompress(bytes(damaged))


def _forge_index(archive: bytes, edit) -> bytes:
    """The archive with its raw index passed through `edit` (raw bytes -> raw bytes), CRCs made valid."""
    a = container.unpack(archive)
    section = a.sections[Section.INDEX]
    from mdlzip import varint

    size, pos = varint.decode(section, 0, len(section), "x")
    import zstandard

    raw = edit(zstandard.ZstdDecompressor().decompress(section[pos:], max_output_size=size))
    forged = varint.encode(len(raw)) + zstandard.ZstdCompressor().compress(raw)
    parts = [(k, forged if k == Section.INDEX else bytes(v)) for k, v in a.sections.items()]
    return container.pack_members(a.method, a.original_size, a.original_crc, parts)


@pytest.mark.parametrize("edit,message", [
    (lambda raw: raw[:1] + b"\xff\xff\xff\xff\x0f" + raw[2:], "members"),  # 2^32 members
    (lambda raw: raw[:2] + b"\xff\xff\xff\xff\x0f" + raw[3:], "blocks"),
    (lambda raw: raw[:3] + b"\xff\xff\xff\xff\x0f" + raw[4:], "records"),
    (lambda raw: raw[:-2 * 120 - 1] + bytes([raw[-2 * 120 - 1] + 1]) + raw[-2 * 120:], "coded lengths"),
    (lambda raw: raw + b"\x00", "trailing"),
    (lambda raw: b"\x09" + raw[1:], "kind"),
])
def test_forged_indexes_are_refused_before_allocating(cm_archive, edit, message):
    with pytest.raises(FormatError, match=message):
        open_dataset(_forge_index(cm_archive, edit))
    with pytest.raises(FormatError):
        mdlzip.info(_forge_index(cm_archive, edit))


def test_index_declaring_a_huge_raw_size_is_refused(cm_archive):
    a = container.unpack(cm_archive)
    from mdlzip import varint

    section = a.sections[Section.INDEX]
    _, pos = varint.decode(section, 0, len(section), "x")
    parts = [(k, varint.encode(1 << 40) + section[pos:] if k == Section.INDEX else bytes(v)) for k, v in a.sections.items()]
    with pytest.raises(FormatError, match="out of range"):
        open_dataset(container.pack_members(a.method, a.original_size, a.original_crc, parts))


def test_version_2_needs_its_flag_and_version_1_archives_still_read(cm_archive):
    a = container.unpack(cm_archive)
    head = container.pack_declared(a.method, a.original_size, a.original_crc,
                                   [(k, bytes(v)) for k, v in a.sections.items()])  # version 1 layout
    with pytest.raises(FormatError):
        container.unpack(head)  # an INDEX section has no place in a version-1 archive
    assert mdlzip.decompress(mdlzip.compress(b"one file, as before")) == b"one file, as before"
    with pytest.raises(FormatError, match="not a multi-member"):
        open_dataset(mdlzip.compress(b"one file"))


def test_hundred_thousand_records():
    data = b"".join(b"%d\n" % (i * 7919 % 100003) for i in range(100_000))
    archive = compress_dataset([("n", data)], 1, records_kind="lines", block_size=16384, model=False)
    with open_dataset(archive) as ds:
        assert len(ds) == 100_000
        assert ds[99_999] == b"%d\n" % (99_999 * 7919 % 100003) and ds[12_345] == b"%d\n" % (12_345 * 7919 % 100003)
    assert mdlzip.decompress(archive) == data


def test_index_columns_round_trip():
    index = members.build("lines", [("a", 1), ("b", 2)], [np.array([2, 1]), np.array([3])],
                          np.array([4, 0, 5, 1, 1, 1]), [3, 4, 5], [zlib.crc32(b"x"), 7, 9])
    back = members.decode(members.encode(index), 12, 12, 16)
    assert back.kind == "lines" and [m.name for m in back.members] == ["a", "b"]
    assert back.record_lengths.tolist() == [4, 0, 5, 1, 1, 1] and back.block_check.tolist() == [zlib.crc32(b"x") & 0xFFFF, 7, 9]
    assert back.member_records(1) == (3, 6) and back.member_size(0) == 9


def test_a_training_loop_reads_records_through_a_dataloader(lines, cm_archive, tmp_path):
    import torch
    from torch.utils.data import DataLoader

    from mdlzip.torch_dataset import RecordDataset

    path = tmp_path / "log.mdlz"
    path.write_bytes(cm_archive)
    expected = lines.splitlines(keepends=True)
    records = RecordDataset(path)
    assert len(records) == len(expected) and bytes(records[3].tolist()) == expected[3]
    texts = RecordDataset(path, transform=bytes.decode)
    loader = DataLoader(texts, batch_size=16, shuffle=False, num_workers=1)
    assert [t.encode() for batch in loader for t in batch] == expected
    assert records[0].dtype == torch.uint8
