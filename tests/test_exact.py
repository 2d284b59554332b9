"""The coding model's arithmetic is exact: every way of computing it gives the same integers."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import ROOT

import mdlzip
from mdlzip.codec import arith
from mdlzip.models.exact import ExactByteGPT, chunk_inputs, exp_table


def chunks(n: int, length: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, length), generator=torch.Generator().manual_seed(seed))


def test_incremental_equals_full_pass(tiny_qmodel):
    model = ExactByteGPT(tiny_qmodel)
    inputs = chunk_inputs(chunks(5, model.cfg.block_size))
    full = model.forward(inputs, model.new_cache(5))
    cache = model.new_cache(5)
    steps = torch.cat([model.forward(inputs[:, t:t + 1], cache) for t in range(inputs.shape[1])], dim=1)
    assert torch.equal(full, steps)
    assert torch.all(full == torch.round(full)) and full.min() >= 0 and full.amax(-1).min() > 0


def test_independent_of_batch_and_split(tiny_qmodel):
    model = ExactByteGPT(tiny_qmodel)
    inputs = chunk_inputs(chunks(9, model.cfg.block_size, seed=1))
    full = model.forward(inputs, model.new_cache(9))
    for b in (1, 2, 4):  # batch size, including the M = 1 and M = 2 matmul kernels
        cache = model.new_cache(b)
        parts = [model.forward(inputs[:b, s:e], cache) for s, e in ((0, 3), (3, 4), (4, None))]
        assert torch.equal(torch.cat(parts, 1), full[:b])


def test_exp_tables_are_exact_integers():
    table = exp_table(64, 24, 2**20)
    assert table[0] == 2**20 and table[64] == round(2**20 / np.e) and table[-1] == 0
    assert all(a >= b for a, b in zip(table, table[1:]))


def freqs_digest(qmodel, threads: int) -> str:
    torch.set_num_threads(threads)
    model = ExactByteGPT(qmodel)
    freqs = model.forward(chunk_inputs(chunks(6, model.cfg.block_size, seed=2)), model.new_cache(6))
    return hashlib.sha256(freqs.numpy().tobytes()).hexdigest()


def test_threads_do_not_change_probabilities(tiny_qmodel):
    before = torch.get_num_threads()
    try:
        assert freqs_digest(tiny_qmodel, 1) == freqs_digest(tiny_qmodel, 2)
    finally:
        torch.set_num_threads(before)


def test_decoder_batch_does_not_change_output(tiny_qmodel, text_sample):
    model = ExactByteGPT(tiny_qmodel)
    streams = arith.encode(model, text_sample, group=4)
    for batch in (1, 4, 7, 1000):
        assert arith.decode(model, streams, len(text_sample), group=4, batch_chunks=batch) == text_sample


DECODE_SCRIPT = textwrap.dedent("""
    import sys, mdlzip
    sys.stdout.buffer.write(mdlzip.decompress(open(sys.argv[1], "rb").read(), threads=int(sys.argv[2])))
""")


@pytest.mark.parametrize("pure", [True, False], ids=["pure", "mixed"])
@pytest.mark.parametrize("env, threads", [
    ({"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}, 1),
    ({"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}, 2),
    ({}, 1),
])
def test_archive_decodes_under_other_cpu_paths(tmp_path, text_sample, env, threads, pure):
    """An archive made in this process decodes in another one whose kernels differ."""
    archive = tmp_path / "a.mdlz"
    archive.write_bytes(mdlzip.compress(text_sample, level=1, fallback=False, pure=pure, model=True))
    out = subprocess.run([sys.executable, "-c", DECODE_SCRIPT, str(archive), str(threads)],
                         env={**os.environ, **env}, capture_output=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout == text_sample
