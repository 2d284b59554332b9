"""Context-mixing coder: the transformer's next-byte distribution mixed with adaptive statistics.

Each byte is coded as 8 binary decisions. For every bit, four gated logistic mixers (weight sets
chosen by the partial byte, by match state / context hits / bit position, by the previous byte and
by the byte before it; their outputs combined by a final mixer selected by the partial byte) combine
the stretched predictions of: a bias, direct order-0 and order-1 counters, hashed contexts (orders
1..32 of the lane's own history, the current word with the last byte, the current word with the
previous word, the byte above in the previous line with the column and the last byte), a match model
(the byte that followed the longest recent occurrence of the last `match_min` bytes, with a strength
learned per match length), and the transformer's probability of the bit (its frequencies summed over
the two halves of the current subtree). Three APMs (order 0, order 1, hashed order 2) refine the
mixed probability, which drives a binary arithmetic coder. All of it is integer arithmetic in numba
kernels (cm_kernel.py), identical in encoder and decoder.

Coding order ("lanes"): the n bytes are split into L contiguous lanes; at step s each lane j with
s < lane_len[j], in increasing j, codes its byte lane_start[j] + s. All lanes share all adaptive
state. Contexts come from the lane's own history (zero before its start); the match model may
point anywhere but reads only bytes already coded.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from . import cm_kernel as K

PROB_ONE = 4096  # the coder's probabilities are integers in [1, PROB_ONE - 1] out of PROB_ONE
SQUASH = K.squash_table()
STRETCH = K.stretch_table(SQUASH)
RATES = K.rate_table()
MAX_STATE_BYTES = 1 << 30
KINDS = {**{str(o): o for o in range(1, K.MAX_ORDER + 1)}, "word": K.WORD, "word_pair": K.WORD_PAIR,
         "column": K.COLUMN}


@dataclass(frozen=True)
class MixParams:
    """Model sizes and rates. Stored in the archive (as `to_dict()`); defaults are the tuned ones."""
    hash_bits: int = 24          # log2 of the hashed context slots (4 bytes each)
    match_bits: int = 22         # log2 of the match table buckets (2 positions of 4 bytes each)
    match_min: int = 6           # bytes of context a match must share (2..8)
    contexts: tuple[str, ...] = ("2", "3", "4", "6", "word", "word_pair", "column")  # hashed context kinds
    limit: int = 30              # counters adapt at rate 1/(n+1.5) with n capped here (1..1023)
    lr: int = 9                  # mixer learning rate (weight step x * err * lr >> 14)
    apm_rate: int = 6            # APM step 2^-apm_rate

    def __post_init__(self):
        object.__setattr__(self, "contexts", tuple(self.contexts))
        checks = {"hash_bits": (12, 28), "match_bits": (8, 26), "match_min": (2, 8),
                  "limit": (1, 1023), "lr": (1, 1024), "apm_rate": (1, 15)}
        for name, (lo, hi) in checks.items():
            v = getattr(self, name)
            if type(v) is not int or not lo <= v <= hi:
                raise ValueError(f"MixParams.{name} must be an int in [{lo}, {hi}], got {v!r}")
        if not 1 <= len(self.contexts) <= 16 or len(set(self.contexts)) != len(self.contexts) \
                or any(type(c) is not str or c not in KINDS for c in self.contexts):
            raise ValueError(f"MixParams.contexts must be 1..16 distinct of {sorted(KINDS)}, "
                             f"got {self.contexts!r}")
        if self.state_bytes() > MAX_STATE_BYTES:
            raise ValueError(f"MixParams need {self.state_bytes()} bytes of tables, over {MAX_STATE_BYTES}")

    @classmethod
    def for_size(cls, n_bytes: int) -> MixParams:
        """The defaults, with tables no larger than an input of `n_bytes` can fill."""
        bits = max(1, n_bytes).bit_length()
        return cls(hash_bits=min(cls.hash_bits, max(16, bits + 1)), match_bits=min(cls.match_bits, max(12, bits - 1)))

    def state_bytes(self) -> int:
        """Bytes of the fixed-size tables (the per-file arrays come on top: 2 bytes per byte)."""
        return 4 * (1 << self.hash_bits) + 8 * (1 << self.match_bits) + 2 * 33 * (256 + 2 * 65536) \
            + 4 * 65792

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["contexts"] = list(self.contexts)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> MixParams:
        """Parameters from an (untrusted) archive dict; ValueError on unknown keys or bad values."""
        if not isinstance(d, dict):
            raise ValueError(f"mixer parameters must be a dict, got {type(d).__name__}")  # noqa: TRY004 (archive data)
        names = {f.name for f in dataclasses.fields(cls)}
        if set(d) != names:  # all of them: the defaults may change, an archive's meaning must not
            raise ValueError(f"mixer parameters must be exactly {sorted(names)}")
        d = dict(d)
        if "contexts" in d:
            if not isinstance(d["contexts"], (list, tuple)):
                raise ValueError("MixParams.contexts must be a list")
            d["contexts"] = tuple(d["contexts"])
        return cls(**d)


def lane_layout(n_bytes: int, block: int, n_lanes: int) -> tuple[np.ndarray, np.ndarray]:
    """(lane_start, lane_len): chunks of `block` bytes dealt in contiguous runs to
    L = min(n_lanes, n_chunks) lanes, the first n_chunks % L lanes one chunk more."""
    if n_bytes < 0 or block < 1 or n_lanes < 1:
        raise ValueError("need n_bytes >= 0, block >= 1, n_lanes >= 1")
    n_chunks = -(-n_bytes // block)
    n_l = min(n_lanes, n_chunks)
    if n_l == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    chunks = np.full(n_l, n_chunks // n_l, np.int64)
    chunks[:n_chunks % n_l] += 1
    start = np.concatenate([[0], np.cumsum(chunks)[:-1]]) * block
    return start, np.minimum(chunks * block, n_bytes - start)


class _Coder:
    """The shared state of encoder and decoder: all tables, the lanes, the coder registers."""

    def __init__(self, lane_start, lane_len, params: MixParams, out_size: int, blob: np.ndarray):
        start = np.asarray(lane_start, dtype=np.int64)
        length = np.asarray(lane_len, dtype=np.int64)
        if start.ndim != 1 or start.shape != length.shape or (length < 1).any() \
                or (start != np.concatenate([[0], np.cumsum(length)[:-1]])).any():
            raise ValueError("lanes must be non-empty and tile [0, n) in order")
        self.n = int(length.sum())
        self.lane_len = length
        self.step = 0
        p = params
        nh = len(p.contexts)
        nin = K.PER_CONTEXT * nh + K.N_FIXED
        lane_tab = np.zeros((len(start), 9), np.int64)
        lane_tab[:, 0], lane_tab[:, 1], lane_tab[:, 7], lane_tab[:, 8] = start, length, start, -1
        apm_row = SQUASH[np.clip(np.arange(-16, 17) * 128, -2048, 2047) + 2048] * 16
        wa = np.full((256, nin), 1 << 14, np.int32)
        wb = np.full((4 * (nh + 1) * 8, nin), 1 << 14, np.int32)
        wc = np.full((256, nin), 1 << 14, np.int32)
        wa[:, 0] = wb[:, 0] = wc[:, 0] = 0
        cfg = np.zeros(6, np.int64)
        cfg[K.CFG_HASH_MASK] = (1 << (p.hash_bits - 4)) - 1
        cfg[K.CFG_MATCH_MASK] = (1 << p.match_bits) - 1
        cfg[K.CFG_MATCH_MIN], cfg[K.CFG_LIMIT] = p.match_min, p.limit
        cfg[K.CFG_LR], cfg[K.CFG_APM_RATE] = p.lr, p.apm_rate
        self.regs = np.array([0, 0xFFFFFFFF, 0, 0, 0], np.int64)
        self.out = np.zeros(out_size, np.uint8)
        self.state = (
            np.zeros(self.n, np.uint8), np.zeros(self.n, np.uint8), lane_tab,
            np.full(1 << p.hash_bits, K.COUNTER_INIT, np.uint32),  # > any 16-bit bucket check
            np.full(256, K.COUNTER_INIT, np.uint32), np.full(65536, K.COUNTER_INIT, np.uint32),
            np.zeros(2 << p.match_bits, np.int32), np.full(64, K.COUNTER_INIT, np.uint32),
            wa, wb, wc, np.tile(apm_row, 256).astype(np.uint16), np.tile(apm_row, 65536).astype(np.uint16),
            self.regs, self.out, blob, cfg,
            np.array(sorted(KINDS[c] for c in p.contexts), np.int64), np.zeros(257, np.int64),
            np.zeros(nh, np.int64), np.zeros(nh, np.int64), np.zeros(nin, np.int64),
            np.full((256, 4), 16384, np.int32), np.zeros(4, np.int64), np.tile(apm_row, 65536).astype(np.uint16), wc.copy())
        self._ones = np.zeros(0, np.float64)

    def _active(self, lanes) -> np.ndarray:
        lanes = np.asarray(lanes, dtype=np.int64)
        if not np.array_equal(lanes, np.flatnonzero(self.lane_len > self.step)):
            raise ValueError(f"step {self.step}: lanes must be exactly those with bytes left, in order")
        return lanes

    @staticmethod
    def _freqs(freqs, k: int) -> np.ndarray:
        freqs = np.ascontiguousarray(freqs, dtype=np.float64)
        if freqs.shape != (k, 256):
            raise ValueError(f"freqs must have shape ({k}, 256), got {freqs.shape}")
        return freqs

    def _step(self, mode: int, lanes, freqs, syms: np.ndarray) -> None:
        K.code_step(mode, lanes, freqs, syms, self.state, SQUASH, STRETCH, RATES)
        self.step += 1

    def _adaptive(self, mode: int, src: np.ndarray) -> None:
        self.step = K.code_adaptive(mode, src, self.step, self.state, SQUASH, STRETCH, RATES,
                                    self._ones)


class MixEncoder(_Coder):
    """Encode step by step; `finish()` returns the coded stream."""

    def __init__(self, lane_start, lane_len, params: MixParams = MixParams()):
        n_lanes = len(np.atleast_1d(lane_len))
        super().__init__(lane_start, lane_len, params, max(1 << 20, 64 * n_lanes + 64),
                         np.zeros(0, np.uint8))
        self._chunks: list[bytes] = []

    def _make_room(self, k: int) -> None:
        if self.regs[3] + 32 * k + 8 > len(self.out):
            self._chunks.append(self.out[:self.regs[3]].tobytes())
            self.regs[3] = 0

    def encode_step(self, lanes: np.ndarray, freqs: np.ndarray, symbols: np.ndarray) -> None:
        """Code the bytes `symbols` of the active `lanes` under the transformer's `freqs`."""
        lanes = self._active(lanes)
        syms = np.asarray(symbols, dtype=np.uint8).astype(np.int64)
        if syms.shape != lanes.shape:
            raise ValueError("need one symbol per active lane")
        self._make_room(len(lanes))
        self._step(0, lanes, self._freqs(freqs, len(lanes)), syms)

    def encode_rest(self, data: bytes) -> None:
        """Code the remaining steps of `data` (all n bytes) with uniform transformer input."""
        src = np.frombuffer(data, dtype=np.uint8)
        if len(src) != self.n:
            raise ValueError(f"need all {self.n} bytes, got {len(src)}")
        while self.step < (self.lane_len.max() if self.n else 0):
            self._make_room(len(self.lane_len))
            self._adaptive(0, src)

    def finish(self) -> bytes:
        """Flush the coder (4 bytes of x1) and return the whole stream."""
        self._make_room(1)
        x1, op = int(self.regs[0]), int(self.regs[3])
        self.out[op:op + 4] = np.frombuffer(x1.to_bytes(4, "big"), np.uint8)
        self._chunks.append(self.out[:op + 4].tobytes())
        self.regs[3] = 0
        return b"".join(self._chunks)


class MixDecoder(_Coder):
    """Decode step by step with the same lanes, params and freqs the encoder saw."""

    def __init__(self, blob: bytes, lane_start, lane_len, params: MixParams = MixParams()):
        buf = np.frombuffer(bytes(blob), dtype=np.uint8).copy()
        super().__init__(lane_start, lane_len, params, 0, buf)
        head = bytes(blob[:4]).ljust(4, b"\0")
        self.regs[2], self.regs[4] = int.from_bytes(head, "big"), 4

    def decode_step(self, lanes: np.ndarray, freqs: np.ndarray) -> np.ndarray:
        """The bytes (uint8) of the active `lanes` at this step."""
        lanes = self._active(lanes)
        syms = np.zeros(len(lanes), np.int64)
        self._step(1, lanes, self._freqs(freqs, len(lanes)), syms)
        return syms.astype(np.uint8)

    def decode_rest(self) -> None:
        """Decode all remaining steps with uniform transformer input."""
        self._adaptive(1, self.state[0])

    def output(self) -> bytes:
        """All n decoded bytes."""
        return self.state[0].tobytes()


def encode_adaptive(data: bytes, n_lanes: int, params: MixParams = MixParams(), block: int = 1) -> bytes:
    """Code `data` without a transformer (uniform freqs), in lane_layout(len, block, n_lanes)."""
    enc = MixEncoder(*lane_layout(len(data), block, n_lanes), params)
    enc.encode_rest(data)
    return enc.finish()


def decode_adaptive(blob: bytes, n: int, n_lanes: int, params: MixParams = MixParams(),
                    block: int = 1) -> bytes:
    """Inverse of `encode_adaptive`."""
    dec = MixDecoder(blob, *lane_layout(n, block, n_lanes), params)
    dec.decode_rest()
    return dec.output()
