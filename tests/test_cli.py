"""The mdlzip command as a user types it (click's runner; -1 and small inputs keep it fast)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import mdlzip
from mdlzip.cli import main


@pytest.fixture
def run():
    def invoke(*args, stdin: bytes | None = None):
        return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    return invoke


@pytest.fixture
def sample(tmp_path, text_sample):
    path = tmp_path / "s.txt"
    path.write_bytes(text_sample)
    return path


@pytest.fixture
def archive(run, sample):
    assert run("compress", "-1", "-q", str(sample)).exit_code == 0
    return sample.with_name("s.txt.mdlz")


def one_error_line(result, starts: str = "mdlzip: ") -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(starts), result.stderr
    return lines[0]


def test_round_trip_keeps_input(run, sample, archive, text_sample):
    assert sample.exists() and archive.exists()
    sample.unlink()
    result = run("decompress", str(archive))
    assert result.exit_code == 0 and sample.read_bytes() == text_sample and archive.exists()


def test_report_on_stderr_and_json(run, sample, tmp_path):
    result = run("compress", "-1", "--no-fallback", "--json", "-o", str(tmp_path / "x.mdlz"), str(sample))
    report = json.loads(result.stdout)
    assert report["method"] == "neural" and report["archive_bytes"] == (tmp_path / "x.mdlz").stat().st_size
    assert sum(report["sizes"].values()) == report["archive_bytes"] and report["xz_bytes"] > 0
    text = run("compress", "-1", "-f", str(sample)).stderr
    assert "xz -9e" in text and "checksums" in text


def test_stdout_and_stdin(run, text_sample):
    packed = run("compress", "-1", "-q", "-c", "-", stdin=text_sample)
    assert packed.exit_code == 0
    assert run("decompress", stdin=packed.stdout_bytes).stdout_bytes == text_sample


def test_output_exists_needs_force(run, sample, archive):
    result = run("compress", "-1", str(sample))
    assert result.exit_code == 1
    assert one_error_line(result) == f"mdlzip: {archive}: File exists"
    assert run("compress", "-1", "-q", "-f", str(sample)).exit_code == 0


def test_rm_removes_input_only_after_success(run, sample, archive, tmp_path):
    bad = tmp_path / "bad.mdlz"
    bad.write_bytes(archive.read_bytes()[:-5])
    assert run("decompress", "--rm", str(bad)).exit_code == 1 and bad.exists()
    assert run("compress", "-1", "-q", "-f", "--rm", str(sample)).exit_code == 0 and not sample.exists()


def test_suffix_rules(run, archive, tmp_path):
    plain = tmp_path / "plain.bin"
    plain.write_bytes(archive.read_bytes())
    result = run("decompress", str(plain))
    assert result.exit_code == 1 and "unknown suffix (.mdlz expected)" in one_error_line(result)
    result = run("compress", "-1", str(archive))
    assert result.exit_code == 1 and "already has '.mdlz' suffix" in one_error_line(result)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_archive_one_line_exit_1_no_output(run, archive, tmp_path, damage):
    blob = bytearray(archive.read_bytes())
    if damage == "truncate":
        blob = blob[:len(blob) // 2]
    else:
        blob[len(blob) // 2] ^= 0x04
    bad = tmp_path / "bad.txt.mdlz"
    bad.write_bytes(bytes(blob))
    for command in ("decompress", "test"):
        result = run(command, str(bad))
        assert result.exit_code == 1
        one_error_line(result, f"mdlzip: {bad}: ")
    assert not (tmp_path / "bad.txt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".mdlzip-")] == []


def test_info_and_test(run, archive):
    result = run("info", "-v", str(archive))
    assert result.exit_code == 0 and str(archive) in result.stdout and "checksums" in result.stdout
    rows = json.loads(run("info", "--json", str(archive)).stdout)
    assert sum(rows[0]["sizes"].values()) == archive.stat().st_size
    assert run("test", str(archive)).exit_code == 0


def test_several_files_one_bad(run, tmp_path, text_sample):
    good = tmp_path / "good.txt"
    good.write_bytes(text_sample[:500])
    result = run("compress", "-1", "-q", str(tmp_path / "missing.txt"), str(good))
    assert result.exit_code == 1 and (tmp_path / "good.txt.mdlz").exists()
    assert one_error_line(result) == f"mdlzip: {tmp_path / 'missing.txt'}: No such file or directory"


def test_version_help_and_levels(run):
    assert run("-V").stdout.strip() == f"mdlzip {mdlzip.__version__}"
    assert "-9" in run("compress", "-h").stdout
    assert run("compress", "-9", "-q", "-c", "-", stdin=b"").exit_code == 0
    assert run("compress", "--bogus").exit_code == 2


def test_threads_do_not_change_the_archive(run, sample):
    outs = {run("compress", "-1", "-q", "--no-fallback", "-c", f"-T{t}", str(sample)).stdout_bytes for t in (1, 2)}
    assert len(outs) == 1
