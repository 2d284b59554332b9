"""Shared fixtures: tiny models and the shared corpora (tests using them skip when absent)."""
from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
import torch

from mdlzip.lab.synthetic import markov_source
from mdlzip.models.exact import chunk_inputs, quantize
from mdlzip.models.transformer import ByteGPT, ByteGPTConfig

ROOT = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("MDLZIP_CORPORA", ROOT.parent / "shared" / "corpora"))
TINY = ByteGPTConfig(block_size=32, n_layer=2, n_head=2, n_embd=16)


def log_lines(n: int, seed: int = 0) -> bytes:
    """n log-like lines (records of a dataset archive), generated here."""
    rng = random.Random(seed)
    return b"".join(b"2024-01-%02d %s worker-%d job %d took %d ms\n" % (
        rng.randint(1, 28), rng.choice([b"INFO", b"WARN"]), rng.randint(1, 9), rng.randint(1, 99999),
        rng.randint(1, 999)) for _ in range(n))


def corpus_file(rel: str) -> Path:
    path = CORPORA / rel
    if not path.is_file():
        pytest.skip(f"corpus file {rel} not present under {CORPORA}")
    return path


def calibrated(cfg: ByteGPTConfig, seed: int = 0, rows: int = 8):
    """A random model whose activation scales saw one forward pass on random bytes, quantized."""
    torch.manual_seed(seed)
    model = ByteGPT(cfg)
    x = torch.randint(0, 256, (rows, cfg.block_size))
    model.train()
    model(chunk_inputs(x), x)
    model.eval()
    return quantize(model)


@pytest.fixture(scope="session")
def tiny_qmodel():
    """A random tiny model whose activation scales were calibrated on random bytes."""
    return calibrated(TINY)


@pytest.fixture(scope="session")
def text_sample() -> bytes:
    """3 KB of a synthetic text-like Markov source that the project generates itself."""
    return markov_source(3000, seed=1)[0]


@pytest.fixture(scope="module")
def one_thread():
    """Models this small train as fast on one thread, and far faster on a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
