"""The synthetic source's stated entropy rate is what its samples show."""
from __future__ import annotations

from collections import Counter

import numpy as np

from mdlzip.synthetic import markov_source


def test_empirical_conditional_entropy_matches_the_rate():
    data, rate = markov_source(200_000, seed=3)
    assert markov_source(1000, seed=3)[0] == data[:1000]  # deterministic
    ctx = Counter(zip(data, data[1:]))
    tri = Counter(zip(data, data[1:], data[2:]))
    n = len(data) - 2
    empirical = -sum(c / n * np.log2(c / ctx[a, b]) for (a, b, _), c in tri.items())
    assert abs(empirical - rate) < 0.03 and 0 < rate < 2
