"""The `mdlzip` command as a user types it (click's runner; -1 and inputs of a few hundred bytes keep it fast)."""
from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

import mdlzip
from mdlzip.cli import main

SIZE = 600


def run(*args: str, stdin: bytes | None = None):
    """Invoke the command; stdout and stderr come back apart (click >= 8.2)."""
    return CliRunner().invoke(main, [str(a) for a in args], input=stdin, catch_exceptions=False)


def one_error(result, prefix: str = "mdlzip: ") -> str:
    """The run failed with exit status 1 and exactly one stderr line, `mdlzip: FILE: message`."""
    lines = result.stderr.splitlines()
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert len(lines) == 1 and lines[0].startswith(prefix), result.stderr
    return lines[0]


def leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data(text_sample) -> bytes:
    return text_sample[:SIZE]


@pytest.fixture(scope="module")
def archives(tmp_path_factory, data) -> dict[str, bytes]:
    """A model archive (--no-fallback: method mixed), a pure one (neural) and a default one."""
    folder = tmp_path_factory.mktemp("archives")
    (folder / "x").write_bytes(data)
    out = {}
    for kind, flags in {"mixed": ["--no-fallback", "--model"], "neural": ["--no-fallback", "--pure"], "default": []}.items():
        assert run("compress", "-1", "-q", *flags, "-o", folder / kind, folder / "x").exit_code == 0
        out[kind] = (folder / kind).read_bytes()
    return out


@pytest.fixture
def sample(tmp_path, data):
    path = tmp_path / "s.txt"
    path.write_bytes(data)
    return path


@pytest.fixture
def archive(tmp_path, archives):
    path = tmp_path / "s.txt.mdlz"
    path.write_bytes(archives["mixed"])
    return path


def test_round_trip_keeps_input_and_its_mode_and_time(sample, data):
    os.chmod(sample, 0o640)
    os.utime(sample, (1_000_000_000, 1_000_000_000))
    result = run("compress", "-1", sample)
    archive = sample.with_name("s.txt.mdlz")
    assert result.exit_code == 0 and result.stdout == ""
    line, = result.stderr.splitlines()  # the default report: one line
    assert line.startswith(f"{sample}: 600 -> ") and "bits/byte" in line and "xz -9e" in line
    assert "checksums" in run("compress", "-1", "-f", "-v", "-c", sample).stderr  # -v: the itemized MDL report
    assert sample.read_bytes() == data and archive.exists()
    assert archive.stat().st_mode & 0o777 == 0o640 and archive.stat().st_mtime == 1_000_000_000
    sample.unlink()
    result = run("decompress", archive)
    assert result.exit_code == 0 and sample.read_bytes() == data and archive.exists()
    assert leftovers(sample.parent) == []


def test_stdout_and_stdin(sample, data):
    packed = run("compress", "-1", "-q", "-c", sample)
    assert packed.exit_code == 0 and packed.stdout_bytes.startswith(b"\xfdMDLZ\x00")
    assert not sample.with_name("s.txt.mdlz").exists()
    assert run("compress", "-1", "-q", stdin=data).stdout_bytes == packed.stdout_bytes  # no FILE: stdin
    assert run("decompress", "-", stdin=packed.stdout_bytes).stdout_bytes == data
    assert run("decompress", "-c", "-q", stdin=packed.stdout_bytes).stdout_bytes == data


def test_output_option(sample, archive, data, tmp_path):
    assert run("decompress", "-o", tmp_path / "back", archive).exit_code == 0
    assert (tmp_path / "back").read_bytes() == data
    assert run("compress", "-1", "-q", "-o", tmp_path / "out.bin", sample).exit_code == 0
    assert mdlzip.decompress((tmp_path / "out.bin").read_bytes()) == data
    assert run("decompress", "-o", tmp_path / "o", archive, archive).exit_code == 1  # one input only: a usage error
    assert run("compress", "-1", "-q", "-o", tmp_path / "o", sample, sample).exit_code == 0  # one multi-member archive
    assert mdlzip.info((tmp_path / "o").read_bytes()).members == 2
    result = run("decompress", "-o", "-", archive)  # -o -: standard output
    assert result.exit_code == 0 and result.stdout_bytes == data


def test_rm_removes_input_only_after_success(sample, archives, tmp_path):
    bad = tmp_path / "bad.mdlz"
    bad.write_bytes(archives["neural"][:-5])
    one_error(run("decompress", "--rm", bad))
    assert bad.exists() and not (tmp_path / "bad").exists()
    assert run("compress", "-1", "-q", "--rm", sample).exit_code == 0
    assert not sample.exists() and sample.with_name("s.txt.mdlz").exists()


def test_existing_output_needs_force(sample, archive, data):
    before = archive.read_bytes()
    assert one_error(run("compress", "-1", sample)) == f"mdlzip: {archive}: File exists"
    assert archive.read_bytes() == before
    assert one_error(run("decompress", archive)) == f"mdlzip: {sample}: File exists"
    sample.write_bytes(b"old")
    assert run("decompress", "-f", archive).exit_code == 0 and sample.read_bytes() == data
    archive.write_bytes(b"old")
    assert run("compress", "-1", "-q", "-f", sample).exit_code == 0
    assert mdlzip.decompress(archive.read_bytes()) == data


def test_suffix_rules(archive, tmp_path):
    plain = tmp_path / "plain.bin"
    shutil.copy(archive, plain)
    assert one_error(run("decompress", plain)) == (
        f"mdlzip: {plain}: unknown suffix (.mdlz expected). Can't derive the output file name. "
        "Specify it with -o FILE.")
    result = run("compress", "-1", archive)  # a warning: exit status 2, as xz
    assert result.exit_code == 2 and result.stderr == f"mdlzip: {archive}: already has '.mdlz' suffix, skipping\n"
    quiet = run("compress", "-1", "-q", archive)  # -q hides warnings, not the status
    assert quiet.exit_code == 2 and quiet.stderr == ""


@pytest.mark.parametrize("kind", ["neural", "default"])
@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_archive_one_line_exit_1_no_output(archives, tmp_path, kind, damage):
    blob = bytearray(archives[kind])
    if damage == "truncate":
        blob = blob[:len(blob) // 2]
    else:
        blob[len(blob) // 2] ^= 0x10
    bad = tmp_path / "bad.txt.mdlz"
    bad.write_bytes(bytes(blob))
    for command in ("decompress", "test"):
        one_error(run(command, bad), f"mdlzip: {bad}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.txt.mdlz"]  # no output, no temporary file
    assert run("decompress", "-c", stdin=bytes(blob)).stderr.startswith("mdlzip: (stdin): ")


def test_test_writes_nothing(archive, data):
    result = run("test", "-v", archive)
    assert result.exit_code == 0 and result.stdout == "" and f"OK, {len(data):,} bytes" in result.stderr
    assert sorted(p.name for p in archive.parent.iterdir()) == ["s.txt.mdlz"]


def test_info(archive, archives, tmp_path, data):
    (tmp_path / "d.mdlz").write_bytes(archives["default"])
    result = run("info", archive, tmp_path / "d.mdlz")
    header, neural, default = result.stdout.splitlines()
    assert result.exit_code == 0 and header.split() == [
        "Compressed", "Uncompressed", "Ratio", "Method", "Params(nz)", "Check", "Filename"]
    assert neural.split()[1] == f"{SIZE:,}" and neural.split()[3] == "mixed" and neural.endswith(str(archive))
    verbose = run("info", "-v", archive).stdout
    assert all(word in verbose for word in ("weights", "data", "header", "config", "checksums", "n_embd"))
    rows = json.loads(run("info", "--json", archive, tmp_path / "d.mdlz").stdout)
    assert rows[0]["method"] == "mixed" and rows[0]["params"] > 0
    for row, path in zip(rows, (archive, tmp_path / "d.mdlz")):
        assert sum(row["sizes"].values()) == row["archive_bytes"] == path.stat().st_size
        assert row["original_bytes"] == len(data)


def test_compress_json_and_no_fallback(sample, tmp_path):
    result = run("compress", "-1", "--no-fallback", "--model", "--json", "-o", tmp_path / "x.mdlz", sample)
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["method"] == "mixed"
    assert report["archive_bytes"] == (tmp_path / "x.mdlz").stat().st_size == sum(report["sizes"].values())
    assert result.stderr == "" and report["file"] == str(sample)  # stdout holds the JSON and nothing else
    assert run("compress", "-1", "--json", "-c", sample).exit_code == 1  # both would go to stdout: usage error


def test_no_model_keeps_any_level_to_cm(sample, tmp_path):
    """--no-model: cm and the classical methods alone, even at -9 (which trains at any size); a
    model option beside it, or either flag on train, is a usage error."""
    result = run("compress", "-9", "--no-model", "--json", "-o", tmp_path / "x.mdlz", sample)
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["method"] != "mixed" and report["train_steps"] == 0
    assert "--no-model" in report["no_model"]
    assert run("compress", "--no-model", "--alpha", "10", "-c", sample).exit_code == 1
    assert run("train", "--no-model", "-o", tmp_path / "m.mdlm", sample).exit_code == 1


def test_version_help_levels_and_usage_errors():
    assert run("-V").stdout == f"mdlzip {mdlzip.__version__}\n"
    for command in ("compress", "decompress", "info", "test", "bench"):
        assert run(command, "-h").exit_code == 0
    text = run("compress", "--help").stdout
    options = [line.split()[0] for line in text.splitlines() if line.startswith("  -")]
    assert all(f"-{n}" in options for n in range(1, 10)) and "--fast" in options and "--best" in options
    assert "1 error (a usage error too), 2 warning" in " ".join(text.split())
    for level in ("-1", "-5", "-9"):  # empty input: nothing to train, so even -9 is instant
        assert run("compress", level, "-q", "-c", stdin=b"").exit_code == 0
    assert run("compress", "--bogus").exit_code == 1
    assert run("compress", "-T", "-1").exit_code == 1
    assert run("compress", "--device", "tpu").exit_code == 1


def test_several_files_one_bad(tmp_path, data):
    good = tmp_path / "good.txt"
    good.write_bytes(data)
    missing = tmp_path / "missing.txt"
    result = run("compress", "-1", "-q", missing, good)
    assert one_error(result) == f"mdlzip: {missing}: No such file or directory"
    assert mdlzip.decompress((tmp_path / "good.txt.mdlz").read_bytes()) == data


def test_xz_style_shortcuts(archive, data):
    assert run("-dc", archive).stdout_bytes == data
    assert run("-t", archive).exit_code == 0
    assert "mixed" in run("-l", archive).stdout and "mixed" in run("list", archive).stdout
    assert run("-d", "-k", archive).exit_code == 0 and archive.with_suffix("").read_bytes() == data


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_is_one_line(sample):
    one_error(run("compress", "-1", "--device", "cuda", sample), f"mdlzip: {sample}: ")
    assert not sample.with_name("s.txt.mdlz").exists()


def test_no_compressed_data_to_a_terminal(sample):
    controller, terminal = pty.openpty()  # a real terminal on stdout: the runner's streams never are one
    try:
        proc = subprocess.run([sys.executable, "-m", "mdlzip", "compress", "-1", "-c", sample],
                              stdout=terminal, stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(controller)
        os.close(terminal)
    assert proc.returncode == 1
    assert proc.stderr.decode() == "mdlzip: (stdout): compressed data not written to a terminal. Use -f to force.\n"
