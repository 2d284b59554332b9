"""Library API round trips: edge cases, every kind of corpus file, errors, file objects."""
from __future__ import annotations

import io
import os
import random

import pytest
from conftest import corpus_file

import mdlzip
import mdlzip.api
from mdlzip.errors import ChecksumError, FormatError, TruncatedError

EDGE_CASES = {
    "empty": b"",
    "one byte": b"\x00",
    "all byte values": bytes(range(256)),
    "random": os.urandom(700),
    "repetitive": b"abc" * 400,
}


@pytest.mark.parametrize("pure", [True, False], ids=["pure", "mixed"])
@pytest.mark.parametrize("name", EDGE_CASES)
def test_model_round_trip_edge_cases(name, pure):
    data = EDGE_CASES[name]
    archive, report = mdlzip.compress_with_report(data, level=1, fallback=False, pure=pure, model=True)
    assert report.method == ("neural" if pure else "mixed")
    assert mdlzip.decompress(archive) == data
    assert sum(report.sizes.values()) == len(archive) == report.archive_bytes


@pytest.mark.parametrize("name", ["one byte", "random", "repetitive"])
def test_cm_candidate_round_trip(name):
    """The adaptive statistics alone (method cm), as compress offers it beside the mixed archive."""
    from mdlzip import container, levels, pipeline
    data = EDGE_CASES[name]
    result = pipeline.encode(data, levels.settings(1, len(data)), pure=False, with_model=True, device="cpu")
    archive = container.pack(container.Method.CM, data, result.candidates[container.Method.CM])
    assert mdlzip.info(archive).method == "cm" and mdlzip.decompress(archive) == data
    archive, report = mdlzip.compress_with_report(data, level=1, fallback=False)  # small: no model at level 1
    assert report.method == "cm" and report.train_steps == 0 and mdlzip.decompress(archive) == data


@pytest.mark.parametrize("name", EDGE_CASES)
def test_default_round_trip_never_much_worse_than_classical(name):
    data = EDGE_CASES[name]
    archive, report = mdlzip.compress_with_report(data, level=1)
    assert mdlzip.decompress(archive) == data
    assert len(archive) == min(report.candidates.values())
    assert len(archive) <= len(data) + 40  # stored fallback bounds the expansion


SLICES = [  # one of every kind of file in the shared corpora
    "canterbury/alice29.txt", "silesia/xml_off0_len1048576", "csv/diamonds.csv", "json/twitter.json",
    "logs/Apache_2k.log", "canterbury/sum", "text-multilingual/zh_hua_yue_hen.txt", "dna/22_20-21M.fa",
    "snappy-testdata/fireworks.jpeg",
]


@pytest.mark.parametrize("rel", SLICES)
def test_corpus_slices_round_trip(rel):
    data = corpus_file(rel).read_bytes()[5000:7000]
    archive = mdlzip.compress(data, level=1, fallback=False, model=True)
    assert mdlzip.decompress(archive) == data


@pytest.fixture(scope="module")
def neural_archive(text_sample):
    return mdlzip.compress(text_sample, level=1, fallback=False, pure=True)


@pytest.fixture(scope="module")
def mixed_archive(text_sample):
    return mdlzip.compress(text_sample, level=1, fallback=False, model=True)


@pytest.fixture(params=["neural", "mixed"])
def model_archive(request, neural_archive, mixed_archive):
    return neural_archive if request.param == "neural" else mixed_archive


def test_info_matches_report_without_decoding(neural_archive, text_sample):
    info = mdlzip.info(neural_archive)
    assert info.method == "neural" and info.original_bytes == len(text_sample)
    assert sum(info.sizes.values()) == info.archive_bytes == len(neural_archive)
    assert 0 < info.nonzeros <= info.params
    assert info.weight_bits_per_nonzero == 8 * info.sizes["weights"] / info.nonzeros


def test_truncated_and_corrupted_archives_raise_specific_errors(model_archive):
    for n in (1, 10, len(model_archive) // 2, len(model_archive) - 1):
        with pytest.raises(TruncatedError):
            mdlzip.decompress(model_archive[:n])
    for pos in (8, len(model_archive) // 2, len(model_archive) - 3):
        corrupted = bytearray(model_archive)
        corrupted[pos] ^= 0x10
        with pytest.raises(FormatError):
            mdlzip.decompress(bytes(corrupted))
    with pytest.raises(FormatError):
        mdlzip.decompress(b"not an archive at all")


def test_checksum_error_when_decoded_bytes_differ(model_archive):
    """A valid container whose coded data decodes to other bytes is caught by the CRC of the original
    (or, for the binary coder, where the changed data runs out before the declared size)."""
    from mdlzip import container
    a = container.unpack(model_archive)
    data = bytearray(a.sections[container.Section.DATA])
    data[len(data) // 2] ^= 0xFF
    forged = container.pack(a.method, b"\0" * a.original_size,
                            [(k, bytes(data) if k == container.Section.DATA else v) for k, v in a.sections.items()])
    with pytest.raises(ChecksumError if a.method == container.Method.NEURAL else FormatError):
        mdlzip.decompress(forged)


def test_open_binary_and_text(tmp_path, text_sample):
    path = tmp_path / "t.mdlz"
    with mdlzip.open(path, "wb", level=1) as f:
        f.write(text_sample[:1000])
        f.write(text_sample[1000:])
    with mdlzip.open(path) as f:
        assert f.read(10) == text_sample[:10] and f.read() == text_sample[10:]
    with mdlzip.open(path, "wt", level=1, encoding="utf-8") as f:
        f.write("héllo wörld\n" * 20)
    with mdlzip.open(path, "rt", encoding="utf-8") as f:
        assert f.readline() == "héllo wörld\n"
    buf = io.BytesIO()
    with mdlzip.open(buf, "wb", level=1) as f:
        f.write(b"xyz")
    assert mdlzip.decompress(buf.getvalue()) == b"xyz"
    with pytest.raises(ValueError):
        mdlzip.open(path, "rw")
    with mdlzip.open(path) as f, pytest.raises(io.UnsupportedOperation):
        f.write(b"x")


def test_errors_form_one_hierarchy():
    for cls in (mdlzip.FormatError, mdlzip.TruncatedError, mdlzip.ChecksumError, mdlzip.UnsupportedVersionError):
        assert issubclass(cls, mdlzip.MdlzipError)
    assert issubclass(mdlzip.TruncatedError, EOFError)


def test_forged_scales_with_valid_checksums_are_refused(model_archive):
    """Sizes and values from the archive are checked even when every CRC matches."""
    import struct

    from mdlzip import container
    a = container.unpack(model_archive)
    weights = bytearray(a.sections[container.Section.WEIGHTS])
    weights[:4] = struct.pack("<f", 1e30)
    forged = container.pack(a.method, mdlzip.decompress(model_archive),
                            [(k, bytes(weights) if k == container.Section.WEIGHTS else v) for k, v in a.sections.items()])
    with pytest.raises(FormatError, match="scales"):
        mdlzip.decompress(forged)


def test_forged_mixed_configs_with_valid_checksums_are_refused(mixed_archive):
    import json

    from mdlzip import container
    a = container.unpack(mixed_archive)
    config = json.loads(a.sections[container.Section.CONFIG])
    for key, value in [("lanes", 0), ("lanes", 1 << 30), ("block", 7), ("mixer", {"bogus": 1}), ("coder", "x")]:
        bad = json.dumps(dict(config, **{key: value})).encode()
        forged = container.pack(a.method, b"x" * a.original_size,
                                [(k, bad if k == container.Section.CONFIG else v) for k, v in a.sections.items()])
        with pytest.raises(FormatError):
            mdlzip.decompress(forged)
    from mdlzip.sections import MAX_EXPANSION
    too_long = MAX_EXPANSION * len(a.sections[container.Section.DATA]) + 2048
    forged = container.pack(a.method, bytes(too_long), list(a.sections.items()))
    with pytest.raises(FormatError, match="too short"):
        mdlzip.decompress(forged)


@pytest.mark.parametrize("eps", [0.0, 0.05])
def test_lumped_model_round_trips_and_reports(text_sample, eps):
    archive, report = mdlzip.compress_with_report(text_sample, level=1, fallback=False, lump_eps=eps, model=True)
    assert mdlzip.decompress(archive) == text_sample
    lu = report.lumping
    assert lu["eps"] == eps and lu["neurons_after"] <= lu["neurons_before"]
    assert lu["params_after"] <= lu["params_before"]
    assert sum(mdlzip.info(archive).model["mlp_hidden"]) == lu["neurons_after"]


def test_cm_codes_a_highly_repetitive_input_far_below_xz():
    data = b"abc" * 4000
    archive, report = mdlzip.compress_with_report(data, fallback=False)
    assert report.method == "cm" and mdlzip.decompress(archive) == data
    assert report.sizes["data"] < 0.25 * report.xz_bytes  # the coded bytes; the JSON config adds ~190


def test_an_incompressible_input_is_stored_without_a_copy():
    """The archive's pieces are written one after another: a stored input's payload is the input
    object itself (a 1 GB input is not copied to be written), and they join to `compress`'s bytes."""
    data = bytearray(random.Random(3).randbytes(20_000))
    pieces, report = mdlzip.api.compress_pieces(data, 1)
    assert report.method == "stored" and any(piece is data for piece in pieces)
    assert report.archive_bytes == sum(map(len, pieces))
    assert b"".join(pieces) == mdlzip.compress(bytes(data), 1)
    assert mdlzip.decompress(b"".join(pieces)) == data
