"""The synthetic sources' stated entropy rates are what their samples show."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mdlzip.lab.synthetic import MarkovSource, main, markov_source, teacher_source

pytestmark = pytest.mark.usefixtures("one_thread")


def batch_stderr(x: np.ndarray, batches: int = 20) -> float:
    """Standard error of the mean from batch means (robust to the short-range correlation of a chain)."""
    means = np.array([b.mean() for b in np.array_split(x, batches)])
    return float(means.std(ddof=1) / np.sqrt(batches))


def test_markov_code_length_under_the_true_model_is_the_entropy_rate():
    for order, alphabet, branching, n in ((2, 24, 4, 100_000), (3, 12, 3, 50_000)):
        rng = np.random.default_rng(3)
        source = MarkovSource.random(rng, order, alphabet, branching)
        info = source.information(source.sample(n, rng))
        assert len(info) == n - order and np.isfinite(info).all()
        se = batch_stderr(info)
        assert se < 0.01 and abs(info.mean() - source.entropy_rate) < 4 * se, (info.mean(), source.entropy_rate, se)
    data, rate = markov_source(2000, seed=3)
    assert markov_source(1000, seed=3)[0] == data[:1000] and 0 < rate < 2  # deterministic


def test_teacher_rate_estimates_agree(tmp_path):
    sample = teacher_source(16 * 400, seed=2, block_size=16, n_embd=16, n_layer=1, alphabet=8, temperature=0.5)
    assert len(sample.data) == 6400 and set(sample.data) <= set(b" etaoins")
    assert 0 < sample.bits_per_byte < 3 and 0 < sample.stderr < 0.1
    # two unbiased estimates of the same rate: information of the drawn bytes, entropy of the predictions
    assert abs(sample.bits_per_byte - sample.entropy) < 4 * sample.stderr
    assert teacher_source(16 * 400, seed=2, block_size=16, n_embd=16, n_layer=1, alphabet=8).data == sample.data
    main([str(tmp_path / "t.txt"), "640", "--source", "teacher", "--alphabet", "8"])
    meta = json.loads((tmp_path / "t.txt.json").read_text())
    assert meta["bytes"] == 640 and meta["source"] == "teacher" and meta["stderr"] > 0
