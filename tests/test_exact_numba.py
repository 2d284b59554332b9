"""The numba steppers compute exactly the frequencies of ExactByteGPT, row by row at any positions:
one row at a time (ExactStepper) and all rows' matrix products at once (BatchedStepper, here at
every row count)."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import calibrated as tiny_model

from mdlzip.models.exact import ExactByteGPT, chunk_inputs
from mdlzip.models import exact_batched
from mdlzip.models.exact_batched import BatchedStepper
from mdlzip.models.exact_numba import ExactStepper
from mdlzip.models.stored import QuantizedModel
from mdlzip.models.transformer import BOS, ByteGPTConfig


def calibrated(cfg: ByteGPTConfig, seed: int = 0) -> QuantizedModel:
    return tiny_model(cfg, seed, rows=4)


def wide_sums() -> QuantizedModel:
    """9-bit codes at full magnitude in a wide MLP: sums beyond 2^24, so exact.py holds that matrix
    in float64 and the steppers take their float64 paths (codes beyond int8: no int8 products)."""
    qm = calibrated(ByteGPTConfig(block_size=16, n_layer=1, n_head=2, n_embd=16, mlp_ratio=40, weight_bits=9))
    shape = qm.codes["h.0.mlp.out"].shape
    qm.codes["h.0.mlp.out"] = np.random.default_rng(0).choice([-255, 255], shape).astype(np.int16)
    return qm


ATT_EDGE = float(np.float32(1 / 25))  # the float32 nearest 1/25, a little below it


def boundary_scales() -> QuantizedModel:
    """Scales that put products on the edges of round and floor. Every scale is a power of two (and
    sqrt(C) = 4), so the multipliers are too, and products often end in exactly .5. Then a_k and
    s_k, times the same factor (k's multiplier stays), make the attention multiplier ATT_EDGE, where
    (max - s) * att rounded to float32 (as exact.py computes it) reaches the next integer for every
    multiple of 25: floor in float64 would differ."""
    cfg = ByteGPTConfig(block_size=32, n_layer=2, n_head=4, n_embd=16)
    qm = calibrated(cfg)
    p2 = lambda scales: {k: 2.0 ** round(math.log2(v)) for k, v in scales.items()}
    weights, acts = p2(qm.weight_scales), p2(qm.act_scales)
    for i in range(cfg.n_layer):  # att = f32(a_q * a_k / sqrt(d) * 64)
        p = f"h.{i}.attn."
        factor = ATT_EDGE / (acts[p + "q_act"] * acts[p + "k_act"] * 64 / math.sqrt(cfg.n_embd // cfg.n_head))
        acts[p + "k_act"] *= factor
        weights[p + "k"] *= factor
    return replace(qm, weight_scales=weights, act_scales=acts)


MODELS = {
    "tiny": lambda: calibrated(ByteGPTConfig(block_size=32, n_layer=2, n_head=2, n_embd=16)),
    "lumped": lambda: calibrated(ByteGPTConfig(block_size=24, n_layer=2, n_head=4, n_embd=16, mlp_hidden=(23, 5))),
    "8-bit": lambda: calibrated(ByteGPTConfig(block_size=20, n_layer=1, n_head=4, n_embd=32, weight_bits=8)),
    "wide-sums": wide_sums,
    "edges": boundary_scales,
}


@pytest.fixture(scope="module", params=list(MODELS))
def qmodel(request) -> QuantizedModel:
    return MODELS[request.param]()


@pytest.fixture(params=["row", "batched"])
def Stepper(request, monkeypatch):
    """The stepper under test; the batched one takes its batched path however few rows step."""
    if request.param == "row":
        return ExactStepper
    monkeypatch.setattr(exact_batched, "BATCH_MIN", 1)
    return BatchedStepper


def test_models_reach_the_cases_they_are_for():
    assert ExactByteGPT(wide_sums()).layers[0]["out"].dtype == torch.float64
    assert [BatchedStepper(MODELS[name](), 2)._int for name in MODELS] == [True, True, True, False, True]
    assert all(layer["att"] == ATT_EDGE for layer in ExactByteGPT(boundary_scales()).layers)


def test_blocks_equal_exact(qmodel, Stepper):
    """Every row through whole blocks, reset at the block boundary, against a full pass."""
    exact, T, rows = ExactByteGPT(qmodel), qmodel.cfg.block_size, 16
    stepper = Stepper(qmodel, rows)
    gen = torch.Generator().manual_seed(1)
    for block in range(2):
        inputs = chunk_inputs(torch.randint(0, 256, (rows, T), generator=gen))
        expected = exact.forward(inputs, exact.new_cache(rows)).numpy()
        got = np.stack([stepper.step(inputs[:, t].numpy()) for t in range(T)], axis=1)
        assert np.array_equal(got, expected), f"block {block}"
        assert np.array_equal(stepper.positions, np.full(rows, T))
        stepper.reset()


def single_row(exact: ExactByteGPT, inputs: list[int]) -> np.ndarray:
    """(len(inputs), 256) frequencies of one chunk, one position at a time, as a decoder runs it."""
    cache = exact.new_cache(1)
    return np.stack([exact.forward(torch.tensor([[x]]), cache)[0, 0].numpy() for x in inputs])


def test_rows_at_their_own_positions(qmodel, Stepper):
    """Rows advance in random subsets and orders, through chunks of random lengths (reset when a
    chunk ends, full or short), each against its own single-row ExactByteGPT."""
    exact, T, rows = ExactByteGPT(qmodel), qmodel.cfg.block_size, 4
    rng = np.random.default_rng(2)
    chunks = [[[BOS] + rng.integers(0, 256, n - 1).tolist() for n in rng.choice([T, T, 1, 2, T // 2 + 1], 3)]
              for _ in range(rows)]
    expected = [np.concatenate([single_row(exact, c) for c in row]) for row in chunks]
    todo = [[x for c in row for x in [None] + c] for row in chunks]  # None: reset here
    got = [[] for _ in range(rows)]
    stepper = Stepper(qmodel, rows)
    while pending := [r for r in range(rows) if todo[r]]:
        active = rng.permutation(pending)[:rng.integers(1, len(pending) + 1)]
        for r in active:
            if todo[r][0] is None:
                stepper.reset([r])
                todo[r].pop(0)
        freqs = stepper.step([todo[r].pop(0) for r in active], active)
        for r, f in zip(active, freqs):
            got[r].append(f)
    for r in range(rows):
        assert np.array_equal(np.stack(got[r]), expected[r]), f"row {r}"


def test_refused_steps_change_nothing(Stepper):
    qm = calibrated(ByteGPTConfig(block_size=4, n_layer=1, n_head=2, n_embd=8))
    stepper = Stepper(qm, 3)
    for t in range(4):
        stepper.step([BOS if t == 0 else 7] * 2, [0, 2])
    for inputs, rows, error in (([1, 1], [1, 0], ValueError),  # row 0 is at the end of its block
                                ([1, 256 + 1], [1, 1], ValueError),  # not an input token
                                ([1, 1], [1, 3], IndexError),  # no row 3
                                ([1], [1, 2], ValueError)):  # one input for two rows
        with pytest.raises(error):
            stepper.step(inputs, rows)
        assert np.array_equal(stepper.positions, [4, 0, 4])
    stepper.reset([0])
    assert np.array_equal(stepper.positions, [0, 0, 4])
    exact = ExactByteGPT(qm)
    expected = exact.forward(torch.tensor([[BOS]] * 2), exact.new_cache(2))[:, 0].numpy()
    assert np.array_equal(stepper.step([BOS, BOS], [0, 1]), expected)


def test_batched_products_stay_float32_exact():
    """A caller's lowered float32 matmul precision (bf16 or TF32 inside the products) is held at
    "highest" while the batched stepper multiplies, and given back after."""
    qm, rows = MODELS["tiny"](), exact_batched.BATCH_MIN
    exact = ExactByteGPT(qm)
    expected = exact.forward(torch.full((rows, 1), BOS), exact.new_cache(rows))[:, 0].numpy()
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")
    try:
        assert np.array_equal(BatchedStepper(qm, rows).step([BOS] * rows), expected)
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision(before)
