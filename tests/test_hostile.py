"""Hostile archives: valid CRCs, every value inside FORMAT.md's caps, and yet each ends in one
`MdlzipError` (one CLI line, exit 1) before it takes the machine's memory or minutes of time."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

import mdlzip
from mdlzip import memory
from mdlzip.codec import arith
from mdlzip.codec.cm_params import MixParams
from mdlzip.container import Method, Section, pack, pack_declared, unpack
from mdlzip.errors import FormatError, MemoryLimitError, OptionError
from mdlzip.lab.hostile import crafted
from mdlzip.models.exact import ExactByteGPT
from mdlzip.sections import mix_config, neural_config, read_coding, weights_section

CLI = [sys.executable, "-m", "mdlzip"]


@pytest.fixture(scope="module")
def crafted_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("crafted")
    paths = {}
    for name, blob in crafted().items():
        paths[name] = directory / f"{name}.mdlz"
        paths[name].write_bytes(blob)
    return paths


def _lines(stderr: bytes) -> list[str]:
    text = stderr.decode()
    assert "Traceback" not in text, text
    return text.splitlines()


def test_every_crafted_archive_is_one_line_and_exit_1_within_the_default_limit(crafted_files):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run([*CLI, "test", *map(str, crafted_files.values())], capture_output=True, timeout=300)
    lines = _lines(proc.stderr)
    assert proc.returncode == 1 and len(lines) == len(crafted_files), lines
    for path, line in zip(crafted_files.values(), lines):
        assert line.startswith(f"mdlzip: {path}: "), line
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # the largest child so far
    assert peak < memory.DEFAULT_MEMLIMIT or before * 1024 >= memory.DEFAULT_MEMLIMIT


def test_info_checks_as_decoding_does_and_shows_the_memory_needed(crafted_files):
    for name in ("nested-json-config", "nested-json-in-mixer", "zstd-2^40"):
        with pytest.raises(FormatError):
            mdlzip.info(crafted_files[name].read_bytes())
    for name in ("neural-deep", "mixed-wide"):  # legal, but over the limit: info says how much
        meta = mdlzip.info(crafted_files[name].read_bytes())
        assert meta.memory_needed > memory.DEFAULT_MEMLIMIT and meta.nonzeros is not None
    proc = subprocess.run([*CLI, "info", "-v", str(crafted_files["mixed-deep"])], capture_output=True, timeout=60)
    assert proc.returncode == 0 and b"memory needed to decode" in proc.stdout and b"over the limit" in proc.stdout


def test_a_cm_config_that_decoding_rejects_is_rejected_by_info():
    good = mdlzip.compress(b"some text " * 50, fallback=False)
    a = unpack(good)
    config = a.sections[Section.CONFIG].replace(b'"lr":%d' % MixParams().lr, b'"lr":0')
    assert config != a.sections[Section.CONFIG]
    bad = pack_declared(a.method, a.original_size, a.original_crc,
                        [(Section.CONFIG, config), (Section.DATA, a.sections[Section.DATA])])
    for call in (mdlzip.info, mdlzip.decompress):
        with pytest.raises(FormatError, match="lr"):
            call(bad)


def test_memlimit_refuses_before_decoding_and_is_checked_where_it_enters():
    archive = mdlzip.compress(bytes(range(256)) * 400, fallback=False)
    needed = mdlzip.info(archive).memory_needed
    with pytest.raises(MemoryLimitError) as caught:
        mdlzip.decompress(archive, memlimit=needed - 1)
    assert caught.value.needed == needed and caught.value.limit == needed - 1
    for limit in (needed, 0, "0", f"{-(-needed // 1024)}KiB", "100%"):
        assert mdlzip.decompress(archive, memlimit=limit) == bytes(range(256)) * 400
    for bad in (-1, "10x", "0%", "1.5.2GiB", 1.5):
        with pytest.raises(OptionError):
            mdlzip.decompress(archive, memlimit=bad)
    assert memory.parse_memlimit("512MiB") == 512 << 20 == memory.parse_memlimit("512m")


def test_the_neural_decoder_shrinks_its_batch_to_the_limit(tiny_qmodel, text_sample):
    group = 4
    model = ExactByteGPT(tiny_qmodel)
    parts = [(Section.CONFIG, neural_config(tiny_qmodel.cfg, group)), (Section.WEIGHTS, weights_section(tiny_qmodel)),
             (Section.DATA, arith.encode(model, text_sample, group))]
    archive = pack(Method.NEURAL, text_sample, parts)
    coding, n, data = read_coding(Method.NEURAL, dict(parts), len(text_sample)), len(text_sample), len(parts[2][1])
    one_stream = memory.needed(Method.NEURAL, n, coding, data, rows=group)["total"]
    assert memory.neural_rows_within(coding, n, data, 0) > group  # the default batch: every chunk here
    assert memory.neural_rows_within(coding, n, data, one_stream) == group
    assert mdlzip.decompress(archive, memlimit=one_stream) == text_sample
    with pytest.raises(MemoryLimitError):
        mdlzip.decompress(archive, memlimit=one_stream - 1)


MEASURE = textwrap.dedent("""
    import resource, sys, mdlzip
    blob = open(sys.argv[1], "rb").read()
    mdlzip.decompress(blob[:0] + open(sys.argv[2], "rb").read())  # warm: the kernel compiled, torch loaded
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    mdlzip.decompress(blob)
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    print(grew, mdlzip.info(blob).memory_needed)
""")


@pytest.mark.parametrize("method", ["cm", "xz", "stored"])
def test_memory_needed_bounds_what_decoding_takes(tmp_path, method):
    data = (b"the quick brown fox jumps over the lazy dog; " * 50_000)[:2 << 20]
    if method == "cm":
        data = data[:256 << 10]  # the kernel decodes about 0.4 MB/s
    options = {"cm": {"fallback": False}}.get(method)
    if options:
        blob = mdlzip.compress(data, **options)
    else:
        from mdlzip.classical import ENCODERS
        m = Method[method.upper()]
        blob = pack(m, data, [(Section.PAYLOAD, ENCODERS[m](data))])
    (tmp_path / "a.mdlz").write_bytes(blob)
    (tmp_path / "warm.mdlz").write_bytes(mdlzip.compress(b"warm up " * 20, fallback=False))
    out = subprocess.run([sys.executable, "-c", MEASURE, tmp_path / "a.mdlz", tmp_path / "warm.mdlz"],
                         capture_output=True, timeout=120, check=True).stdout.split()
    grew, estimate = map(int, out)
    assert grew <= estimate, (grew, estimate)


def _slow_cm_archive(path, n_bytes=4 << 20):
    """A legal cm archive whose 4 KiB of zero data decode to 4 MiB of 0xFF (about 15 s of decoding)."""
    path.write_bytes(pack_declared(Method.CM, n_bytes, 0, [(Section.CONFIG, mix_config(1, 1, MixParams().sized_for(n_bytes))),
                                                           (Section.DATA, bytes(4096))]))


def _interrupt(args, cwd, after: float):
    proc = subprocess.Popen([*CLI, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(after)
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    return proc.returncode, stdout, _lines(stderr), time.perf_counter() - sent


def test_ctrl_c_while_decoding_exits_130_at_once_with_no_output(tmp_path):
    _slow_cm_archive(tmp_path / "slow.mdlz")
    rc, _, lines, waited = _interrupt(["-d", "slow.mdlz"], tmp_path, after=4.0)
    assert rc == 130 and lines == ["mdlzip: slow.mdlz: interrupted"], lines
    assert waited < 5  # the kernel returns to Python every 128 KiB (under a second)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.mdlz"]  # no output, no temporary file


def test_ctrl_c_while_compressing_leaves_the_input_and_no_output(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "big").write_bytes(bytes(rng.integers(97, 123, 4 << 20, dtype=np.uint8)))
    rc, _, lines, _ = _interrupt(["compress", "--rm", "big"], tmp_path, after=4.0)
    assert rc == 130 and lines == ["mdlzip: big: interrupted"], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big"]


def test_unreadable_inputs_are_one_line_and_exit_1(tmp_path):
    for args in (["-t", str(tmp_path)], ["compress", "-c", str(tmp_path / "missing")], ["info", str(tmp_path)],
                 ["bench", str(tmp_path / "missing")]):
        proc = subprocess.run([*CLI, *args], capture_output=True, timeout=60)
        assert proc.returncode == 1 and len(_lines(proc.stderr)) == 1, (args, proc.stderr)
    if os.geteuid() != 0:  # root reads any file
        locked = tmp_path / "locked"
        locked.write_bytes(b"x")
        locked.chmod(0)
        proc = subprocess.run([*CLI, "compress", "-c", str(locked)], capture_output=True, timeout=60)
        assert proc.returncode == 1 and b"Permission denied" in proc.stderr


def test_torch_running_out_of_host_memory_is_an_mdlzip_error():
    from mdlzip.errors import OutOfMemoryError
    from mdlzip.runtime import torch_threads
    with pytest.raises(OutOfMemoryError), torch_threads(None):
        torch.empty(1 << 62, dtype=torch.uint8)


def test_ctrl_c_that_a_finalizer_drops_still_exits_130():
    """A Ctrl-C whose handler runs inside a finalizer is one Python prints and drops (the command
    went on and exited 0): the command still ends with 130 and one line."""
    script = """
import sys, time
import mdlzip.__main__ as entry
import mdlzip.cli as cli

class Finalized:
    def __del__(self):
        entry._interrupt(2, None)  # the SIGINT handler, run inside a finalizer

def command():
    Finalized()
    time.sleep(0.5)
    sys.exit(0)

cli.main = command
entry.run()
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == 130 and _lines(proc.stderr) == ["mdlzip: interrupted"], proc.stderr


def test_ctrl_c_during_start_up_prints_no_traceback(tmp_path):
    (tmp_path / "in").write_bytes(bytes(np.random.default_rng(1).integers(97, 123, 4 << 20, dtype=np.uint8)))
    launch = [sys.executable, "-c", "from mdlzip.__main__ import run; run()"]
    subprocess.run([*launch, "--version"], check=True, capture_output=True)  # bytecode compiled, as installed
    for delay in (0.15, 0.2, 0.25, 0.3, 0.4):  # past the interpreter's own start-up (~50 ms)
        proc = subprocess.Popen([*launch, "compress", "-c", "in"],
                                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        if b"Fatal Python error" in stderr:  # the signal came while the interpreter itself started
            continue
        # 130 with one line; -SIGINT if the signal came before Python set up its handler
        assert proc.returncode in (130, -signal.SIGINT), (delay, proc.returncode, stderr)
        assert len(_lines(stderr)) <= 1


def test_the_classical_encoders_run_in_pieces_and_write_what_one_call_writes():
    """Fed 256 KiB at a time (so Ctrl-C is seen between pieces), zstd and xz write the same bytes."""
    import lzma

    import zstandard

    from mdlzip import classical
    data = (bytes(range(256)) * 5000 + b"text " * 200_000)[:3 * classical.PIECE + 123]
    assert classical.ENCODERS[Method.ZSTD](data) == zstandard.ZstdCompressor(
        level=classical.ZSTD_LEVEL, write_checksum=False, write_content_size=False).compress(data)
    assert classical.ENCODERS[Method.XZ](data) == lzma.compress(
        data, format=lzma.FORMAT_RAW, filters=classical._lzma2_filters(len(data)))
    assert classical.xz_size(data) == len(lzma.compress(data, format=lzma.FORMAT_XZ, preset=classical.XZ_PRESET))
