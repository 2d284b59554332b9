"""Dataset archives from the command line and reusable model files: compress -o / --records,
list, extract (safe paths only), cat --record, train and -M."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import mdlzip
from conftest import log_lines
from mdlzip import modelfile
from mdlzip.cli import safe_member_path
from mdlzip.codec import mixed
from mdlzip.dataset import compress_dataset, open_dataset, train_model
from mdlzip.errors import ChecksumError, FormatError, ModelFileError



def run(*args: str, cwd=None, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mdlzip", *map(str, args)], cwd=cwd, input=input,
                          capture_output=True, timeout=300)


def test_files_and_a_directory_into_one_archive_then_list_extract_cat(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.txt").write_bytes(b"alpha\n" * 50)
    (tmp_path / "d" / "sub" / "b.txt").write_bytes(b"beta\n" * 40)
    (tmp_path / "d" / "empty").write_bytes(b"")
    done = run("compress", "-1", "-q", "-r", "d", "-o", "d.mdlz", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listed = run("list", "d.mdlz", cwd=tmp_path).stdout.decode()
    assert "3 members" in listed and "d/sub/b.txt" in listed and "d/empty" in listed
    assert run("extract", "d.mdlz", "-C", "out", cwd=tmp_path).returncode == 0
    for name in ("a.txt", "sub/b.txt", "empty"):
        assert (tmp_path / "out" / "d" / name).read_bytes() == (tmp_path / "d" / name).read_bytes()
    assert run("cat", "d.mdlz", "d/sub/b.txt", cwd=tmp_path).stdout == b"beta\n" * 40
    again = run("extract", "d.mdlz", "-C", "out", cwd=tmp_path)  # the files exist now: refused, nothing changed
    assert again.returncode == 1 and b"exists" in again.stderr and len(again.stderr.splitlines()) == 1
    missing = run("extract", "d.mdlz", "nope", cwd=tmp_path)
    assert missing.returncode == 1 and b"nope: not in the archive" in missing.stderr


def test_records_from_the_command_line(tmp_path):
    data = log_lines(50, seed=5)
    (tmp_path / "x.log").write_bytes(data)
    assert run("compress", "-1", "-q", "--records", "lines", "--model", "x.log", cwd=tmp_path).returncode == 0
    lines = data.splitlines(keepends=True)
    assert run("cat", "x.log.mdlz", "--record", "10:13", cwd=tmp_path).stdout == b"".join(lines[10:13])
    assert run("cat", "x.log.mdlz", "--record", "-1", cwd=tmp_path).stdout == lines[-1]
    assert run("-dc", "x.log.mdlz", cwd=tmp_path).stdout == data
    bad = run("cat", "x.log.mdlz", "--record", "1:2:0", cwd=tmp_path)
    assert bad.returncode == 1 and b"--record" in bad.stderr
    assert run("compress", "--records", "words", "x.log", cwd=tmp_path).returncode == 1  # a typo is an error


@pytest.mark.parametrize("name", ["/etc/passwd", "../up", "a/../../b", "a/..", ""])
def test_unsafe_member_names_are_refused(tmp_path, name):
    with pytest.raises(Exception, match="unsafe member name"):
        safe_member_path(str(tmp_path), name)


def test_extract_refuses_a_member_named_with_dot_dot(tmp_path):
    archive = compress_dataset([("../evil", b"x" * 10), ("ok", b"fine")], 1, model=False)
    (tmp_path / "x.mdlz").write_bytes(archive)
    (tmp_path / "out").mkdir()
    done = run("extract", "x.mdlz", "-C", "out", cwd=tmp_path)
    assert done.returncode == 1 and b"unsafe member name" in done.stderr
    assert not (tmp_path / "evil").exists()


def test_a_model_file_codes_new_data_and_is_needed_to_decode(one_thread, tmp_path):
    train = log_lines(80, seed=1)
    blob = train_model([("train.log", train)], 1, records_kind="lines")
    model = modelfile.load(blob)
    assert blob.startswith(modelfile.MAGIC) and model.size == len(blob)
    new = log_lines(30, seed=2)
    archive = compress_dataset([("new.log", new)], 1, records_kind="lines", model_file=blob, verify=True)
    info = mdlzip.info(archive)
    if info.method == "mixed":  # the external model won: it is named, not stored
        assert info.model_sha256 == model.sha256 and "weights" not in info.sizes
        with pytest.raises(ModelFileError, match="give it with -M"):
            open_dataset(archive)
        other = train_model([("other", log_lines(80, seed=9))], 1, records_kind="lines")
        with pytest.raises(ModelFileError, match="not the one"):
            mdlzip.decompress(archive, model_file=other)
    with open_dataset(archive, model_file=blob) as ds:
        assert b"".join(ds) == new
    assert mdlzip.decompress(archive, model_file=blob) == new


def test_model_files_are_checked(one_thread):
    blob = train_model([("t", log_lines(40))], 1, records_kind="lines")
    with pytest.raises(ChecksumError):
        modelfile.load(blob[:-5] + bytes([blob[-5] ^ 1]) + blob[-4:])
    with pytest.raises(FormatError, match="bad magic"):
        modelfile.load(b"PK" + blob[2:])
    with pytest.raises(FormatError):
        modelfile.load(blob[:20])


def test_train_and_dash_m_from_the_command_line(tmp_path):
    (tmp_path / "a.log").write_bytes(log_lines(80, seed=1))
    (tmp_path / "b.log").write_bytes(log_lines(20, seed=2))
    done = run("train", "-1", "--records", "lines", "-o", "m.mdlm", "a.log", cwd=tmp_path)
    assert done.returncode == 0 and b"sha256" in done.stderr, done.stderr
    assert run("compress", "-q", "-M", "m.mdlm", "--records", "lines", "b.log", cwd=tmp_path).returncode == 0
    assert run("-dc", "-M", "m.mdlm", "b.log.mdlz", cwd=tmp_path).stdout == (tmp_path / "b.log").read_bytes()
    if mdlzip.info((tmp_path / "b.log.mdlz").read_bytes()).method == "mixed":
        assert b"external model, not stored: sha256" in run("info", "b.log.mdlz", cwd=tmp_path).stdout
        without = run("-dc", "b.log.mdlz", cwd=tmp_path)
        assert without.returncode == 1 and b"-M" in without.stderr and len(without.stderr.splitlines()) == 1
    assert run("train", "-o", "m.mdlm", "a.log", cwd=tmp_path).returncode == 1  # exists: -f overwrites


def test_the_three_model_paths_code_alike(one_thread, tiny_qmodel, monkeypatch):
    """The numba stepper coding with the coder in one call, the batched stepper (one product per
    matrix per step) and the torch model a GPU runs, here on the CPU: the same bits, decoded alike,
    in a dataset's record lanes and in the lanes of one input."""
    from mdlzip.codec.cm_params import MixParams
    from mdlzip.codec.layout import lane_layout
    from mdlzip.models import exact_batched
    from mdlzip.models.exact import ExactByteGPT

    model, params = ExactByteGPT(tiny_qmodel), MixParams(hash_bits=16, match_bits=12)
    data = log_lines(6, seed=4)
    lengths = np.array([len(x) for x in data.splitlines(keepends=True)])
    records = (np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    for (starts, lens), dataset_block in ((records, True), (lane_layout(len(data), 32, 12), False)):
        code = lambda: mixed.encode_lanes(model, data, starts, lens, 32, params, dataset_block=dataset_block)
        blob = code()
        for path in ("batched", "torch"):
            if path == "batched":
                monkeypatch.setattr(exact_batched, "BATCH_MIN", 1)
            else:
                monkeypatch.setattr(mixed, "_numba_steps", lambda m: False)
            assert mixed._batched(model, lens) == (path == "batched")
            assert code() == blob, path
            assert mixed.decode_lanes(model, blob, starts, lens, 32, params, dataset_block=dataset_block) == data
            monkeypatch.undo()
        assert mixed.decode_lanes(model, blob, starts, lens, 32, params, dataset_block=dataset_block) == data
