"""On a GPU: the integer-exact model gives CUDA the CPU's frequencies bit for bit whatever precision
the caller set, so an archive written on either decodes on the other; training runs there (bfloat16
autocast, fused AdamW, larger batches), also as one process of torchrun. Skipped without CUDA:
`scripts/gpu_check.sh` runs these where a GPU is lent."""
from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import torch
from conftest import TINY
from test_exact_numba import MODELS

import mdlzip
from mdlzip import container, levels, pipeline
from mdlzip.codec.layout import file_chunks
from mdlzip.container import Method
from mdlzip.models.exact import ExactByteGPT, chunk_inputs
from mdlzip.models.transformer import ByteGPT
from mdlzip.training.config import TrainConfig
from mdlzip.training.size import code_bits
from mdlzip.training.train import fit, train_quantized

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (scripts/gpu_check.sh runs "
                                                                     "these where a GPU is lent)")


@pytest.mark.parametrize("name", list(MODELS))
def test_cuda_frequencies_are_the_cpus_with_reduced_precision_asked_for(name):
    qm = MODELS[name]()  # float32 and float64 products, scales on the edges of round and floor
    rows, T = 8, qm.cfg.block_size
    inputs = chunk_inputs(torch.randint(0, 256, (rows, T), generator=torch.Generator().manual_seed(0)))
    cpu, gpu = ExactByteGPT(qm, "cpu"), ExactByteGPT(qm, "cuda")
    want = cpu.forward(inputs, cpu.new_cache(rows))
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")  # TF32 or bfloat16 inside float32 products, were it not held off
    try:
        whole = gpu.forward(inputs, gpu.new_cache(rows)).cpu()  # inputs on the CPU: the model takes them over
        cache = gpu.new_cache(rows)
        stepped = torch.cat([gpu.forward(inputs[:, t:t + 1], cache).cpu() for t in range(T)], dim=1)  # as a decoder
        assert torch.get_float32_matmul_precision() == "medium"  # given back
    finally:
        torch.set_float32_matmul_precision(before)
    assert torch.equal(whole, want) and torch.equal(stepped, want)


def test_width_trials_score_the_same_on_cuda(tiny_qmodel, text_sample):
    chunks = file_chunks(len(text_sample), TINY.block_size)
    assert code_bits(ExactByteGPT(tiny_qmodel, "cuda"), text_sample, chunks) == \
        code_bits(ExactByteGPT(tiny_qmodel, "cpu"), text_sample, chunks)


def _archives(data: bytes, device: str) -> dict[Method, bytes]:
    """The mixed and the neural archive of `data`, trained and coded on `device`."""
    plan, out = levels.settings(1, len(data)), {}
    for pure, method in ((False, Method.MIXED), (True, Method.NEURAL)):
        result = pipeline.encode(data, plan, pure=pure, with_model=True, lump_eps=0.05, device=device, threads=1)
        out[method] = container.pack(method, data, result.candidates[method])
    return out


def test_archives_written_on_cuda_decode_on_the_cpu_and_the_reverse(text_sample):
    data = text_sample[:2000]
    for written in ("cuda", "cpu"):
        for method, archive in _archives(data, written).items():
            assert mdlzip.info(archive).method == method.name.lower()
            for read in ("cpu", "cuda"):
                assert mdlzip.decompress(archive, device=read) == data, (method, written, read)


def test_training_on_cuda(text_sample):
    cfg = TrainConfig(min_steps=200, max_steps=200)
    torch.manual_seed(0)
    model = ByteGPT(TINY)
    stats = fit(model, text_sample, cfg, torch.device("cuda"))
    assert stats.batch_size == cfg.cuda_batch_factor * cfg.batch_size and stats.steps == 200 // cfg.cuda_batch_factor
    assert next(model.parameters()).is_cuda and math.isfinite(stats.final_loss_bits) and stats.final_loss_bits < 7
    trained = train_quantized(text_sample, TINY, cfg, torch.device("cuda"), lump_eps=0.05)  # lumped on the CPU
    assert trained.qm.num_nonzero() > 0


def test_one_gpu_process_of_torchrun_writes_an_archive_the_cpu_decodes(tmp_path, text_sample):
    (tmp_path / "x").write_bytes(text_sample[:1000])
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=1", "-m",
                          "mdlzip", "compress", "--distributed", "--device", "cuda", "-1", "--pure", "--no-fallback",
                          "-o", "x.mdlz", "x"], cwd=tmp_path, env=dict(os.environ), capture_output=True, timeout=300)
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    assert mdlzip.decompress((tmp_path / "x.mdlz").read_bytes(), device="cpu") == text_sample[:1000]
