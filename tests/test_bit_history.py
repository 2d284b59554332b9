"""The bit-history tables (codec/bit_history.py) and the record context, against their contracts."""
from __future__ import annotations

import dataclasses

import numpy as np

from mdlzip.codec import bit_history as BH
from mdlzip.codec import mixer
from mdlzip.codec.cm_params import MixParams


def _pair(s: int) -> tuple[int, int]:
    return int(BH.COUNTS[s, 0]), int(BH.COUNTS[s, 1])


def _run(bits) -> int:
    s = 0
    for b in bits:
        s = int(BH.NEXT[2 * s + b])
    return s


def test_states_are_the_allowed_pairs_in_a_byte():
    assert BH.N_STATES <= 256 and _pair(0) == (0, 0)
    pairs = [_pair(s) for s in range(BH.N_STATES)]
    assert len(set(pairs)) == BH.N_STATES
    for n0, n1 in pairs:
        lo = min(n0, n1)
        assert lo < len(BH.COUNT_CAP) and max(n0, n1) <= BH.COUNT_CAP[lo]
    assert BH.NEXT.shape == (2 * BH.N_STATES,) and int(BH.NEXT.max()) < BH.N_STATES


def test_a_run_counts_up_to_its_cap_and_stays():
    for k in range(1, 60):
        assert _pair(_run([1] * k)) == (0, min(k, BH.COUNT_CAP[0]))
        assert _pair(_run([0] * k)) == (min(k, BH.COUNT_CAP[0]), 0)


def test_the_other_count_loses_half_its_excess_over_two():
    assert _pair(_run([0] * 10 + [1])) == (6, 1)  # 10 -> 2 + 8 // 2
    assert _pair(_run([0, 0, 1])) == (2, 1)       # 2 is kept
    assert _pair(_run([1, 0, 1, 0])) == (2, 2)


def test_every_transition_adds_the_bit_seen():
    for s in range(BH.N_STATES):
        n0, n1 = _pair(s)
        for bit in (0, 1):
            m0, m1 = _pair(int(BH.NEXT[2 * s + bit]))
            seen, before = (m1, n1) if bit else (m0, n0)
            assert seen == min(before + 1, BH.COUNT_CAP[0]) or (seen <= before + 1 and min(m0, m1) > 0)
            assert (m0 <= n0) if bit else (m1 <= n1)  # the other count never grows


def test_the_record_context_finds_a_period():
    rng = np.random.default_rng(3)
    steps = rng.integers(-1, 2, (400, 37))  # each column a random walk: the byte above predicts, the row does not
    data = ((rng.integers(0, 256, 37) + np.cumsum(steps, axis=0)) % 256).astype(np.uint8).tobytes()
    without = dataclasses.replace(MixParams().sized_for(len(data)), contexts=("1", "2"))
    with_record = dataclasses.replace(without, contexts=("1", "2", "record"))
    a, b = mixer.encode_adaptive(data, 1, without), mixer.encode_adaptive(data, 1, with_record)
    assert len(b) < 0.6 * len(a)
    assert mixer.decode_adaptive(b, len(data), 1, with_record) == data
