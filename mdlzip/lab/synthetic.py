"""Synthetic sources whose entropy rate is known, for the demo, the tests and MDL experiments.

- `markov_source`: an order-k Markov chain with sparse random transitions; its entropy rate is
  computed exactly from the chain (stationary distribution times the per-context entropies).
- `teacher_source`: chunks sampled from a small random `ByteGPT` (the seed's teacher-student
  setting). Its rate is *estimated*: the mean -log2 p of the sampled bytes under the teacher,
  which is an unbiased estimate of the teacher's entropy rate (chunks are independent, so the
  standard error is that of a mean of iid per-chunk sums).

    python -m mdlzip.lab.synthetic OUT [N]                      # the default order-2 Markov source
    python -m mdlzip.lab.synthetic OUT N --source teacher --seed 1

writes N bytes to OUT, the source and its entropy rate to OUT.json, and prints them.
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..models.exact import ExactByteGPT, quantize
from ..models.stored import ByteGPTConfig
from ..models.transformer import BOS, ByteGPT

LETTERS = b" etaoinshrdlucmfwypvbgkqjxz.,\n'"


@dataclass(frozen=True)
class MarkovSource:
    """Context c (the last `order` letters, base `alphabet`) is followed by letter successors[c, j]
    with probability probs[c, j]."""

    order: int
    alphabet: int
    successors: np.ndarray  # (contexts, branching) letter indices
    probs: np.ndarray  # (contexts, branching)

    @classmethod
    def random(cls, rng: np.random.Generator, order: int = 2, alphabet: int = 24, branching: int = 4) -> MarkovSource:
        """Each context gets `branching` distinct successors with Dirichlet(1) probabilities."""
        if not 1 <= alphabet <= len(LETTERS) or not 1 <= branching <= alphabet or order < 1:
            raise ValueError("need order >= 1 and 1 <= branching <= alphabet <= 31")
        n_ctx = alphabet**order
        successors = np.argsort(rng.random((n_ctx, alphabet)), axis=1)[:, :branching]
        return cls(order, alphabet, successors, rng.dirichlet(np.ones(branching), size=n_ctx))

    def next_context(self, ctx: np.ndarray, letter: np.ndarray) -> np.ndarray:
        return (ctx * self.alphabet) % len(self.probs) + letter

    def stationary(self) -> np.ndarray:
        """The stationary distribution over contexts, by power iteration of the lazy chain (P + I) / 2
        (same fixed point, aperiodic), converged to 1e-15 in L1."""
        n_ctx = len(self.probs)
        dest = self.next_context(np.arange(n_ctx)[:, None], self.successors)
        pi = np.full(n_ctx, 1 / n_ctx)
        for _ in range(100_000):
            nxt = np.bincount(dest.ravel(), (pi[:, None] * self.probs).ravel(), minlength=n_ctx)
            nxt = (nxt + pi) / 2
            if np.abs(nxt - pi).sum() < 1e-15:
                return nxt
            pi = nxt
        raise RuntimeError("the stationary distribution did not converge")

    @property
    def entropy_rate(self) -> float:
        """Bits per byte: sum over contexts of stationary probability times next-letter entropy."""
        p = self.probs
        entropy = -(p * np.log2(np.where(p > 0, p, 1))).sum(1)
        return float(self.stationary() @ entropy)

    def sample(self, n_bytes: int, rng: np.random.Generator) -> bytes:
        """n_bytes letters, from a uniformly drawn starting context."""
        out = np.empty(n_bytes, dtype=np.uint8)
        ctx, cum, u = int(rng.integers(len(self.probs))), self.probs.cumsum(1), rng.random(n_bytes)
        last = self.successors.shape[1] - 1
        for i in range(n_bytes):
            letter = self.successors[ctx, min(int(np.searchsorted(cum[ctx], u[i], side="right")), last)]
            out[i] = LETTERS[letter]
            ctx = int(self.next_context(ctx, letter))
        return out.tobytes()

    def information(self, data: bytes) -> np.ndarray:
        """-log2 p of every byte after the first `order` under the true chain (the code length an
        ideal coder with this model spends on it)."""
        index = np.full(256, -1)
        index[np.frombuffer(LETTERS[:self.alphabet], dtype=np.uint8)] = np.arange(self.alphabet)
        letters = index[np.frombuffer(data, dtype=np.uint8)]
        ctx = np.zeros(len(letters) - self.order, dtype=np.int64)
        for k in range(self.order):
            ctx = ctx * self.alphabet + letters[k:len(letters) - self.order + k]
        target = letters[self.order:]
        hit = self.successors[ctx] == target[:, None]
        return -np.log2((self.probs[ctx] * hit).sum(1))


def markov_source(n_bytes: int, order: int = 2, alphabet: int = 24, branching: int = 4,
                  seed: int = 0) -> tuple[bytes, float]:
    """`n_bytes` of a random order-`order` Markov chain over `alphabet` letters with `branching`
    successors per context; returns the bytes and the exact entropy rate in bits per byte."""
    rng = np.random.default_rng(seed)
    source = MarkovSource.random(rng, order, alphabet, branching)
    return source.sample(n_bytes, rng), source.entropy_rate


@dataclass(frozen=True)
class TeacherSample:
    data: bytes
    bits_per_byte: float  # mean -log2 p of the sampled bytes under the teacher: unbiased for its entropy rate
    stderr: float  # standard error of that mean, from the spread of the independent chunks
    entropy: float  # mean entropy of the teacher's predictions along the sample: also unbiased, a cross-check
    config: dict
    chunk_bits: np.ndarray  # -log2 p per byte of each chunk (iid across chunks)


def teacher_model(cfg: ByteGPTConfig, seed: int = 0, temperature: float = 1.0) -> ExactByteGPT:
    """A random ByteGPT whose layers pass signal (weights N(0, 1/fan_in), embeddings N(0, 1)), so
    that its predictions depend on the context, with its output weights divided by `temperature`;
    frozen, as mdlzip stores models, into an integer-exact model (the teacher is that model)."""
    gen = torch.Generator().manual_seed(seed)
    model = ByteGPT(cfg)
    with torch.no_grad():
        for name, m in model.prunable().items():
            std = 1.0 if name.startswith(("wte", "wpe")) else m.weight.shape[1] ** -0.5
            m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * std / (temperature if name == "lm_head" else 1))
        model.train()
        model(torch.randint(0, 257, (16, cfg.block_size), generator=gen))  # calibrates the activation scales
    return ExactByteGPT(quantize(model.eval()))


def teacher_source(n_bytes: int, seed: int = 0, temperature: float = 0.5, alphabet: int = 24,
                   block_size: int = 64, n_layer: int = 2, n_embd: int = 32, n_head: int = 2,
                   batch: int = 1024) -> TeacherSample:
    """Sample independent chunks of `block_size` bytes, each from BOS like mdlzip's chunks, from a
    random teacher (`teacher_model`) whose integer frequencies are restricted to the first
    `alphabet` letters of LETTERS and renormalized (that restricted distribution is the source)."""
    if not 1 <= alphabet <= len(LETTERS):
        raise ValueError("need 1 <= alphabet <= 31")
    cfg = ByteGPTConfig(block_size=block_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd)
    model = teacher_model(cfg, seed, temperature)
    allowed = np.frombuffer(LETTERS[:alphabet], dtype=np.uint8)
    rng = np.random.default_rng(seed)
    n_chunks = math.ceil(n_bytes / block_size)
    chunks, bits, entropy = np.zeros((n_chunks, block_size), dtype=np.uint8), np.zeros(n_chunks), 0.0
    for start in range(0, n_chunks, batch):
        rows = np.arange(start, min(n_chunks, start + batch))
        cache, idx = model.new_cache(len(rows)), torch.full((len(rows), 1), BOS)
        for t in range(block_size):
            freqs = model.forward(idx, cache)[:, 0].numpy()[:, allowed]
            p = freqs / freqs.sum(1, keepdims=True)
            pick = np.minimum((p.cumsum(1) < rng.random((len(rows), 1))).sum(1), alphabet - 1)
            chunks[rows, t] = allowed[pick]
            bits[rows] -= np.log2(p[np.arange(len(rows)), pick]) / block_size
            entropy -= (p * np.log2(np.where(p > 0, p, 1))).sum() / block_size / n_chunks
            idx = torch.from_numpy(chunks[rows, t:t + 1].astype(np.int64))
    config = dict(cfg.to_dict(), seed=seed, temperature=temperature, alphabet=alphabet)
    return TeacherSample(chunks.ravel()[:n_bytes].tobytes(), float(bits.mean()),  # bits: per chunk, iid
                         float(bits.std(ddof=1) / math.sqrt(n_chunks)), float(entropy), config, bits)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mdlzip.lab.synthetic", description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("n_bytes", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--source", choices=["markov", "teacher"], default="markov")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--order", type=int, default=2, help="markov: context length")
    parser.add_argument("--alphabet", type=int, default=24, help="letters used (at most 31)")
    parser.add_argument("--branching", type=int, default=4, help="markov: successors per context")
    parser.add_argument("--temperature", type=float, default=0.5, help="teacher: logits are divided by this")
    a = parser.parse_args(argv)
    if a.source == "markov":
        data, rate = markov_source(a.n_bytes, a.order, a.alphabet, a.branching, a.seed)
        meta = {"source": "markov", "order": a.order, "alphabet": a.alphabet, "branching": a.branching,
                "seed": a.seed, "entropy_rate": rate, "rate_is": "exact, from the chain"}
        what = f"order-{a.order} Markov source, entropy rate {rate:.4f} bits/byte (exact)"
    else:
        sample = teacher_source(a.n_bytes, a.seed, a.temperature, a.alphabet)
        data, rate = sample.data, sample.bits_per_byte
        meta = {"source": "teacher", **sample.config, "entropy_rate": rate, "stderr": sample.stderr,
                "mean_prediction_entropy": sample.entropy,
                "rate_is": "mean -log2 p of the sample under the teacher (unbiased estimate)"}
        what = f"random-teacher source, entropy rate {rate:.4f} ± {sample.stderr:.4f} bits/byte (estimate)"
    with open(a.out, "wb") as f:
        f.write(data)
    with open(a.out + ".json", "w") as f:
        json.dump(dict(meta, file=a.out, bytes=len(data)), f, indent=2)
    print(f"{a.out}: {len(data)} bytes, {what}")


if __name__ == "__main__":
    main()
