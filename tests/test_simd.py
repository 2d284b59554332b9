"""simd.weighted_sum16, the attention's weighted sums: the AVX2 multiply-add (where this CPU has it)
and the portable loop give the exact integer sum, at the largest weights and values, at every
length around the vector width, and at the longest context a config allows."""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from mdlzip.models import simd
from mdlzip.models.exact import ATT_ONE


def _caller(kernel):
    @njit
    def call(hi, lo, v, n):
        return kernel(hi, lo, v, n)
    return call


PATHS = [pytest.param(simd.weighted_sum16_generic, id="generic"),
         pytest.param(simd.weighted_sum16, id="avx2" if simd.AVX2 else "generic-again")]


def split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (a >> simd.HI_SHIFT).astype(np.int16), (a & ((1 << simd.HI_SHIFT) - 1)).astype(np.int16)


@pytest.mark.parametrize("kernel", PATHS)
def test_exact_sums_at_every_length(kernel):
    call, rng = _caller(kernel), np.random.default_rng(0)
    for n in [0, 1, 15, 16, 17, 31, 32, 33, 100, 255, 256, 8192]:
        a = rng.integers(0, ATT_ONE + 1, n).astype(np.int64)
        v = rng.integers(-128, 128, n).astype(np.int8)
        whole = n - n % simd.LANES
        assert call(*split(a), v, np.int64(n)) == int((a[:whole] * v[:whole]).sum())


@pytest.mark.parametrize("kernel", PATHS)
def test_extremes_do_not_overflow(kernel):
    """Every weight 2^20 (its high half 1024) against every value -128 or 127, over 8,192 positions
    (the longest block): the 32-bit partial sums stay exact."""
    call, n = _caller(kernel), 8192
    a = np.full(n, ATT_ONE, np.int64)
    for value in (-128, 127):
        v = np.full(n, value, np.int8)
        assert call(*split(a), v, np.int64(n)) == ATT_ONE * value * n
    a = np.full(n, ATT_ONE - 1, np.int64)  # the low half at its largest, 1023
    v = np.full(n, 127, np.int8)
    assert call(*split(a), v, np.int64(n)) == (ATT_ONE - 1) * 127 * n
