"""Bit histories: what a context has seen, in one byte (FORMAT.md 4.3).

Contract: a state is an integer in [0, N_STATES); state 0 is "nothing seen". `NEXT[2 * s + bit]` is
the state after `bit` is seen in state s; `COUNTS[s]` = (n0, n1), the (discounted) numbers of zeros
and ones the state stands for. The coder never reads a probability from a state directly: an
adaptive map (cm_kernel's state maps) learns, per context kind, the probability of a 1 in each state
(an indirect model, as in lpaq and zpaq's ICM; the tables here are this project's own).

A state is a pair (n0, n1) in which the smaller count is at most 5 and the larger at most
COUNT_CAP[smaller]: a long run is remembered long, a mixed history only roughly. Seeing a bit adds
one to its count and, when the other count is above 2, halves the other's excess over 2 (old
evidence against a run fades fast); a pair outside the allowed set is then brought in by lowering
the other count, else by capping this one. Pure Python, built once at import: every machine has the
same tables.
"""
from __future__ import annotations

import numpy as np

COUNT_CAP = (48, 24, 12, 8, 6, 5)  # the larger count allowed, by the smaller one (0..5)


def _allowed(n0: int, n1: int) -> bool:
    lo, hi = min(n0, n1), max(n0, n1)
    return lo < len(COUNT_CAP) and hi <= COUNT_CAP[lo]


def _pairs() -> list[tuple[int, int]]:
    """All allowed (n0, n1), by total count, then n1; (0, 0) first."""
    top = COUNT_CAP[0]
    return sorted(((a, b) for a in range(top + 1) for b in range(top + 1) if _allowed(a, b)),
                  key=lambda p: (p[0] + p[1], p[1]))


def _after(n0: int, n1: int, bit: int) -> tuple[int, int]:
    """The pair after seeing `bit`."""
    seen, other = (n1, n0) if bit else (n0, n1)
    seen += 1
    if other > 2:
        other = 2 + (other - 2) // 2
    while not _allowed(*((other, seen) if bit else (seen, other))):
        if other > 0 and (other >= len(COUNT_CAP) or seen > COUNT_CAP[other - 1] or other > seen):
            other -= 1
        else:
            seen -= 1
    return (other, seen) if bit else (seen, other)


def _tables() -> tuple[np.ndarray, np.ndarray]:
    pairs = _pairs()
    index = {p: i for i, p in enumerate(pairs)}
    nxt = np.array([index[_after(*p, bit)] for p in pairs for bit in (0, 1)], np.uint8)
    return nxt, np.array(pairs, np.int64)


NEXT, COUNTS = _tables()
N_STATES = len(COUNTS)
assert N_STATES <= 256  # a state is one byte
