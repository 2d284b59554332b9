"""Synthetic sources whose entropy rate is known exactly, for the demo, the tests and MDL sanity checks.

`python -m mdlzip.synthetic OUT [N]` writes N bytes of the default source and prints its entropy rate.
"""
from __future__ import annotations

import sys

import numpy as np

LETTERS = b" etaoinshrdlucmfwypvbgkqjxz.,\n'"


def markov_source(n_bytes: int, order: int = 2, alphabet: int = 24, branching: int = 4,
                  seed: int = 0) -> tuple[bytes, float]:
    """Sample an order-`order` Markov chain over `alphabet` letters in which each context has
    `branching` possible successors with Dirichlet(1) probabilities.

    Returns the bytes and the chain's entropy rate in bits per byte: sum over contexts of the
    stationary probability times the entropy of the next-letter distribution.
    """
    if not 1 <= alphabet <= len(LETTERS) or not 1 <= branching <= alphabet:
        raise ValueError("need 1 <= branching <= alphabet <= 31")
    rng = np.random.default_rng(seed)
    n_ctx = alphabet**order
    successors = np.argsort(rng.random((n_ctx, alphabet)), axis=1)[:, :branching]
    probs = rng.dirichlet(np.ones(branching), size=n_ctx)
    transition = np.zeros((n_ctx, n_ctx))  # context -> context
    for c in range(n_ctx):
        transition[c, (c * alphabet) % n_ctx + successors[c]] += probs[c]
    stationary = np.full(n_ctx, 1 / n_ctx)
    for _ in range(10_000):
        nxt = stationary @ transition
        if np.abs(nxt - stationary).sum() < 1e-15:
            break
        stationary = nxt
    with np.errstate(divide="ignore"):
        entropy = -(probs * np.where(probs > 0, np.log2(probs), 0)).sum(1)
    rate = float(stationary @ entropy)
    out = np.empty(n_bytes, dtype=np.uint8)
    ctx, cum, u = int(rng.integers(n_ctx)), probs.cumsum(1), rng.random(n_bytes)
    for i in range(n_bytes):
        letter = successors[ctx, min(int(np.searchsorted(cum[ctx], u[i], side="right")), branching - 1)]
        out[i] = LETTERS[letter]
        ctx = (ctx * alphabet) % n_ctx + letter
    return out.tobytes(), rate


def main(argv: list[str]) -> None:
    if not 1 <= len(argv) <= 2:
        raise SystemExit("usage: python -m mdlzip.synthetic OUT [N_BYTES]")
    data, rate = markov_source(int(argv[1]) if len(argv) > 1 else 1_000_000)
    with open(argv[0], "wb") as f:
        f.write(data)
    print(f"{argv[0]}: {len(data)} bytes, order-2 Markov source, entropy rate {rate:.4f} bits/byte")


if __name__ == "__main__":
    main(sys.argv[1:])
