"""The command as xz/zstd users type it, through the real executable: operation letters anywhere,
the bare filter, tar -I, -o -, concatenated archives, exit statuses."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

import mdlzip

CLI = [sys.executable, "-m", "mdlzip"]
TEXT = b"the quick brown fox jumps over the lazy dog\n" * 40


def sh(*args, stdin: bytes | None = None, cwd=None):
    return subprocess.run([*CLI, *map(str, args)], input=stdin, capture_output=True, cwd=cwd, timeout=120)


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "t.txt.mdlz"
    path.write_bytes(mdlzip.compress(TEXT))
    return path


@pytest.mark.parametrize("args", [["-cd"], ["-kdc"], ["-c", "-d"], ["-d", "-c"], ["-dvT0", "-c"], ["-dc", "--"],
                                  ["--decompress", "--stdout"], ["decompress", "-c"], ["-do", "-"]])
def test_decompress_to_stdout_in_every_spelling(archive, args):
    result = sh(*args, archive)
    assert result.returncode == 0 and result.stdout == TEXT, result.stderr


def test_bare_mdlzip_is_a_filter_both_ways():
    packed = sh(stdin=TEXT)
    assert packed.returncode == 0 and packed.stderr == b""  # quiet in a pipe, as xz and gzip are
    assert sh("-d", stdin=packed.stdout).stdout == TEXT


@pytest.mark.skipif(shutil.which("tar") is None, reason="no tar")
def test_tar_uses_mdlzip_as_its_compressor(tmp_path):
    tree = tmp_path / "d"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_bytes(TEXT)
    (tree / "sub" / "b.bin").write_bytes(bytes(range(256)) * 10)
    launcher = tmp_path / "mdlzip"
    launcher.write_text(f"#!/bin/sh\nexec {sys.executable} -m mdlzip \"$@\"\n")
    launcher.chmod(0o755)
    subprocess.run(["tar", "-I", str(launcher), "-cf", "d.tar.mdlz", "d"], cwd=tmp_path, check=True, timeout=120)
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["tar", "-I", str(launcher), "-xf", str(tmp_path / "d.tar.mdlz")], cwd=out, check=True, timeout=120)
    assert (out / "d" / "a.txt").read_bytes() == TEXT
    assert (out / "d" / "sub" / "b.bin").read_bytes() == bytes(range(256)) * 10


def test_concatenated_archives_decode_to_the_concatenated_data(tmp_path):
    (tmp_path / "a").write_bytes(TEXT)
    (tmp_path / "b").write_bytes(b"second file\n")
    both = sh("-c", "a", "b", cwd=tmp_path)  # several inputs to stdout: one archive each, back to back
    assert both.returncode == 0
    (tmp_path / "ab.mdlz").write_bytes(both.stdout)
    assert sh("-dc", "ab.mdlz", cwd=tmp_path).stdout == TEXT + b"second file\n"
    assert mdlzip.decompress(both.stdout) == TEXT + b"second file\n"
    (tmp_path / "b.mdlz").write_bytes(mdlzip.compress(b"second file\n"))
    assert sh("-dc", "ab.mdlz", "b.mdlz", cwd=tmp_path).stdout == TEXT + b"second file\n" * 2
    with mdlzip.open(tmp_path / "b.mdlz", "ab") as f:  # appending adds an archive
        f.write(b"more\n")
    assert mdlzip.decompress((tmp_path / "b.mdlz").read_bytes()) == b"second file\nmore\n"
    bad = sh("-t", "-", stdin=both.stdout + b"junk")
    assert bad.returncode == 1 and b"trailing bytes after archive 2" in bad.stderr


def test_exit_status_as_xz_documents(archive, tmp_path):
    assert sh(archive).returncode == 2  # compressing a .mdlz file: skipped, a warning
    assert sh("--bogus").returncode == 1  # a usage error is an error
    missing = sh("-d", tmp_path / "missing.mdlz")
    assert missing.returncode == 1 and len(missing.stderr.splitlines()) == 1
    assert sh("-qq", "-d", tmp_path / "missing.mdlz").stderr == b""  # -qq: errors too


def test_json_is_one_document_on_stdout_for_several_files(tmp_path):
    import json
    for name in ("a", "b"):
        (tmp_path / name).write_bytes(TEXT + name.encode())
    result = sh("--json", "a", "b", cwd=tmp_path)
    reports = json.loads(result.stdout)
    assert result.returncode == 0 and [r["file"] for r in reports] == ["a", "b"] and result.stderr == b""


def test_what_the_thread_count_changes_and_what_it_never_does():
    """As the README says: cm archives are the same bytes whatever -T; a trained model's archive is
    reproducible at one -T (and may differ between -T1 and -T2); every archive decodes everywhere."""
    from mdlzip.lab.synthetic import markov_source
    data = markov_source(3000, seed=3)[0]
    assert mdlzip.compress(data, fallback=False, threads=1) == mdlzip.compress(data, fallback=False, threads=2)
    one = mdlzip.compress(data, 1, pure=True, fallback=False, threads=1)
    assert mdlzip.compress(data, 1, pure=True, fallback=False, threads=1) == one
    two = mdlzip.compress(data, 1, pure=True, fallback=False, threads=2)
    for archive in (one, two):
        assert mdlzip.decompress(archive, threads=1) == mdlzip.decompress(archive, threads=2) == data


def test_recursive_and_file_lists(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a").write_bytes(b"first")
    (tmp_path / "d" / "sub" / "b").write_bytes(b"second")
    assert sh("-r", "-q", "d", cwd=tmp_path).returncode == 0  # each file beside itself, as gzip -r
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "d/a", "d/a.mdlz", "d/sub/b", "d/sub/b.mdlz"]
    (tmp_path / "d" / "a").unlink()
    (tmp_path / "d" / "sub" / "b").unlink()
    assert sh("-dr", "d", cwd=tmp_path).returncode == 0  # decompress -r takes the archives only
    assert (tmp_path / "d" / "a").read_bytes() == b"first" and (tmp_path / "d" / "sub" / "b").read_bytes() == b"second"
    listed = sh("-t", "-v", "--files", "-", cwd=tmp_path, stdin=b"d/a.mdlz\n\nd/sub/b.mdlz\n")
    assert listed.returncode == 0 and listed.stderr.count(b": OK") == 2
    assert sh("-r", "-c", "d", cwd=tmp_path).returncode == 1  # -r writes beside each file: not with -c


def test_the_man_page_is_current_and_completion_works(tmp_path):
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    check = subprocess.run([sys.executable, root / "scripts" / "manpage.py", "--check"], capture_output=True, timeout=60)
    assert check.returncode == 0, check.stderr  # regenerate with: python scripts/manpage.py
    env = {"COMP_WORDS": "mdlzip compress --recur", "COMP_CWORD": "2", "_MDLZIP_COMPLETE": "bash_complete",
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", "import sys; sys.argv[0] = 'mdlzip'; from mdlzip.__main__ import run; run()"],
                          env=env, capture_output=True, timeout=60)
    assert b"--recursive" in done.stdout, done


def test_level_0_is_the_classical_codings_alone(tmp_path):
    archive, report = mdlzip.compress_with_report(TEXT, 0)
    assert report.method in ("stored", "zstd", "xz") and mdlzip.decompress(archive) == TEXT
    assert set(report.candidates) == {"stored", "zstd", "xz"} and report.no_model.startswith("none: level 0")
    with pytest.raises(mdlzip.OptionError):
        mdlzip.compress(TEXT, 0, model=True)
    (tmp_path / "t").write_bytes(TEXT)
    assert sh("-0", "-c", "t", cwd=tmp_path).stdout == archive and sh("-0", "--model", "t", cwd=tmp_path).returncode == 1
