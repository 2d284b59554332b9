"""The coding model of `mdlzip.models.exact` one position at a time, in numba: bit-identical, and
without torch's per-operation overhead (which dominates a step at small batch).

`ExactStepper(qm, rows)` holds a key/value cache for `rows` independent rows, each at its own
position of its own chunk. `reset(rows)` puts rows at position 0 (previous input BOS);
`step(inputs, rows)` feeds each of those rows its next input token and returns its integer
frequencies, float64 (len(rows), 256), equal bit for bit to what `ExactByteGPT.forward` returns
for a batch of one row fed the same inputs since its `new_cache`. Inputs are as there: BOS at
position 0, then the chunk's bytes (`exact.chunk_inputs`). A row that has consumed block_size
inputs must be reset before it steps again (`step` raises otherwise).

The arithmetic is FORMAT.md section 3.4, operation for operation as in exact.py: integer products
in float32 where exact.py finds every sum of every matrix below 2^24, else in float64 (every
partial sum is an exact integer either way, so their order cannot matter), each scale
applied by one correctly rounded multiply or divide followed by np.rint (half to even, as
torch.round) or floor, and the attention index computed in float32 as torch computes it there.
numba does not contract a multiply and an add into an FMA unless fastmath is on, and it is off.
The scale multipliers, weight codes and exp tables are read off an `ExactByteGPT`, so the two
cannot drift apart.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch
from numba import njit

from .exact import ATT_ONE, RESIDUAL_MAX, ExactByteGPT
from .simd import HI_SHIFT, weighted_sum16
from .simd import LANES as SIMD_LANES
from .stored import QuantizedModel
from .transformer import BOS

# The per-layer scale multipliers of ExactByteGPT.layers, in the columns of ExactStepper._mult
_MULTS = ("mq", "mk", "mv", "mo", "mproj", "mfc", "mout")
MQ, MK, MV, MO, MPROJ, MFC, MOUT = range(len(_MULTS))


class Weights(NamedTuple):
    """What the kernel reads of a model, as numpy arrays (built once per model: `weights_of`)."""

    wte: np.ndarray
    wte2: np.ndarray
    wpe: np.ndarray
    attw: np.ndarray  # (layers, 4, C, C): q, k, v, proj
    fc: np.ndarray  # (layers, C, widest MLP), zero-padded
    out: np.ndarray  # (layers, widest MLP, C)
    hidden: np.ndarray  # (layers,) MLP widths
    mult: np.ndarray  # (layers, len(_MULTS)) scale multipliers
    att: np.ndarray  # (layers,) float32 attention multipliers
    head: np.ndarray
    scalars: np.ndarray  # mhead, norm_mult, RESIDUAL_MAX
    att_lut: np.ndarray  # int64: the attention weights are integers, summed in int64
    out_lut: np.ndarray


@lru_cache(maxsize=8)  # a reader decodes block after block under one model: build its arrays once
def weights_of(ex: ExactByteGPT) -> Weights:
    cfg = ex.cfg
    nl, C = cfg.n_layer, cfg.n_embd
    f64 = lambda x: np.ascontiguousarray(x.double().cpu().numpy())
    # exact.py holds a matrix in float32 where every sum of its products is below 2^24 (exact
    # there); where all of them are, the kernel's products are float32 too (twice the SIMD width)
    mats = [ex.head] + [L[n] for L in ex.layers for n in ("q", "k", "v", "proj", "fc", "out")]
    wt = np.float32 if all(m.dtype == torch.float32 for m in mats) else np.float64
    wmat = lambda x: f64(x).astype(wt)
    # MLP widths differ per layer once lumped: zero-padded to the widest, the kernel reads the first hidden[l]
    hidden = np.array([cfg.hidden(i) for i in range(nl)], dtype=np.int64)
    width = int(hidden.max())
    fc, out = np.zeros((nl, C, width), dtype=wt), np.zeros((nl, width, C), dtype=wt)
    for i, L in enumerate(ex.layers):
        fc[i, :, :hidden[i]], out[i, :hidden[i]] = wmat(L["fc"]), wmat(L["out"])
    att_lut = f64(ex.att_lut).astype(np.int64)
    if att_lut.min() < 0 or att_lut.max() > ATT_ONE:  # the split of _weighted_values needs 0 <= a <= 2^20
        raise ValueError("attention weights outside [0, ATT_ONE]")
    return Weights(
        f64(ex.wte), f64(ex.wte2), f64(ex.wpe),
        np.stack([np.stack([wmat(L[n]) for n in ("q", "k", "v", "proj")]) for L in ex.layers]), fc, out, hidden,
        np.array([[L[n] for n in _MULTS] for L in ex.layers]),
        np.array([L["att"] for L in ex.layers], dtype=np.float32),  # f32 values, exactly
        wmat(ex.head), np.array([ex.mhead, ex.norm_mult, RESIDUAL_MAX]), att_lut, f64(ex.out_lut))


class ExactStepper:
    """Single-position integer inference for `rows` rows, each with its own position."""

    def __init__(self, model: QuantizedModel | ExactByteGPT, rows: int):
        ex = model if isinstance(model, ExactByteGPT) else ExactByteGPT(model)
        cfg = ex.cfg
        self.cfg, self.rows, self._w = cfg, rows, weights_of(ex)
        nl, nh, C, T = cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.block_size
        # int8 caches (codes are within +-127), head-dim-major: the scores vectorize over positions,
        # and the weighted sums of values are sums over positions
        self._k = np.zeros((nl, rows, nh, C // nh, T), dtype=np.int8)
        self._v = np.zeros((nl, rows, nh, C // nh, T), dtype=np.int8)
        self._pos = np.zeros(rows, dtype=np.int64)
        self._prev = np.full(rows, BOS, dtype=np.int64)
        self._all = np.arange(rows, dtype=np.int64)

    def kernel_arrays(self) -> tuple:
        """The cache and weights in `_step`'s argument order after its inputs and rows (for kernels
        that step the model themselves, codec/model_kernel.py)."""
        return (self._pos, self._prev, self._k, self._v, *self._w)

    @property
    def positions(self) -> np.ndarray:
        """Each row's position: the number of inputs it has consumed since its reset."""
        return self._pos.copy()

    def reset(self, rows=None) -> None:
        """Start `rows` (indices; default all) at position 0 of a new chunk."""
        rows = self._all if rows is None else rows
        self._pos[rows] = 0
        self._prev[rows] = BOS

    def _checked(self, inputs, rows) -> tuple[np.ndarray, np.ndarray]:
        """`step`'s arguments as int64 arrays (one compiled variant), one input per row."""
        rows = self._all if rows is None else np.ascontiguousarray(rows, dtype=np.int64)
        inputs = np.ascontiguousarray(inputs, dtype=np.int64)
        if rows.ndim != 1 or inputs.shape != rows.shape:
            raise ValueError(f"inputs of shape {inputs.shape} for rows of shape {rows.shape}")
        return inputs, rows

    def step(self, inputs, rows=None) -> np.ndarray:
        """Feed input tokens (0..256) to `rows` (distinct indices; default all, in order) and
        advance them one position: their frequencies, float64 (len(rows), 256)."""
        inputs, rows = self._checked(inputs, rows)
        freqs = np.empty((len(rows), 256))
        w = self._w
        _step(inputs, rows, self._pos, self._prev, self._k, self._v, w.wte, w.wte2, w.wpe, w.attw, w.fc, w.out,
              w.hidden, w.mult, w.att, w.head, w.scalars, w.att_lut, w.out_lut, freqs)
        return freqs


@njit(cache=True, nogil=True)
def _matvec(x, w, out):
    """out = x @ w[:len(x), :len(out)] for integers, exactly (every partial sum is below 2^53)."""
    out[:] = 0.0
    for i in range(x.shape[0]):
        xi = x[i]
        if xi != 0.0:
            for j in range(out.shape[0]):
                out[j] += xi * w[i, j]


@njit(cache=True, nogil=True)
def _norm(r, norm_mult, y):
    """y = clamp(round(r * norm_mult / sqrt(sum r^2 + 1)), -127, 127), as ExactByteGPT.norm."""
    q = 0.0
    for c in range(r.shape[0]):
        q += r[c] * r[c]
    d = np.sqrt(q + 1.0)
    for c in range(r.shape[0]):
        y[c] = min(max(np.rint(r[c] * norm_mult / d), -127.0), 127.0)


@njit(cache=True, nogil=True)
def _requant(acc, mult, lo, hi, out):
    """out = clamp(round(acc * mult), lo, hi): a product's scale applied, onto the next grid."""
    for c in range(out.shape[0]):
        out[c] = min(max(np.rint(acc[c] * mult), lo), hi)


@njit(cache=True, nogil=True)
def _add_scaled(r, acc, mult, rmax):
    """The residual stream's update: r = clamp(r + round(acc * mult), -rmax, rmax)."""
    for c in range(r.shape[0]):
        r[c] = min(max(r[c] + np.rint(acc[c] * mult), -rmax), rmax)


@njit(cache=True, nogil=True)
def _attend(acc_q, acc_k, acc_v, m, att, att_lut, K, V, t, o):
    """One row's attention at position t: the q, k, v products (acc_*) onto their int8 grids, its
    output codes into o, and k and v into the row's caches K and V (nh, hs, T) at t. The new k and v
    enter the sums from registers and reach the caches last: their cache lines are then the ones the
    sums just read (a write first misses on every line of column t: 2 * C misses, measured 10-15 %
    of the attention's time with 1,024 rows)."""
    nh, hs = K.shape[0], K.shape[1]
    # scratch allocated here, not passed in: LLVM then knows it aliases nothing and vectorizes the loops
    qv, s, a = np.empty(nh * hs), np.empty(t + 1, np.float32), np.empty(t + 1, np.int64)
    a_hi, a_lo = np.empty(t + 1, np.int16), np.empty(t + 1, np.int16)  # a split for weighted_sum16
    sums = np.empty(hs, np.int64)
    kv, vv = np.empty(nh * hs, np.int8), np.empty(nh * hs, np.int8)
    att_last = np.float32(att_lut.shape[0] - 1)
    _requant(acc_q, m[MQ], -127.0, 127.0, qv)
    for c in range(nh * hs):
        kv[c] = np.int8(min(max(np.rint(acc_k[c] * m[MK]), -127.0), 127.0))
        vv[c] = np.int8(min(max(np.rint(acc_v[c] * m[MV]), -127.0), 127.0))
    for hd in range(nh):
        # the scores in float32 as exact.py computes them: integers below 2^21, exact there
        s[:t + 1] = 0.0
        for d in range(hs):
            c = hd * hs + d
            qd, Kd = np.float32(qv[c]), K[hd, d]
            for j in range(t):
                s[j] += qd * np.float32(Kd[j])
            s[t] += qd * np.float32(kv[c])
        smax = s[:t + 1].max()
        total = 0
        for j in range(t + 1):
            # exact.py: (max - s) and its product with att are float32; the difference is an
            # integer below 2^24, exact there; the product is rounded to float32 before floor
            s[j] = min(np.floor(np.float32(smax - s[j]) * att), att_last)  # >= 0: the scales are positive
        for j in range(t + 1):  # apart from the indices, so that their loop vectorizes
            a[j] = att_lut[np.int64(s[j])]
            a_hi[j], a_lo[j] = a[j] >> HI_SHIFT, a[j] & ((1 << HI_SHIFT) - 1)
            total += a[j]
        heads = slice(hd * hs, (hd + 1) * hs)
        _weighted_values(a, a_hi, a_lo, V[hd], vv[heads], t, m[MO], np.float64(total), sums, o[heads])
        K[hd, :, t] = kv[heads]
        V[hd, :, t] = vv[heads]


@njit(cache=True, nogil=True)
def _weighted_values(a, a_hi, a_lo, V, v, t, mo, total, sums, o):
    """One head's output codes: o[d] = clamp(round(sum_j a[j] V[d, j] * mo / total)), j <= t, where
    position t's values are v (not yet in V) and a_hi, a_lo split a (simd.weighted_sum16). The sums
    are integers below 2^35 (a <= 2^20, |v| <= 127, t < 2^14): exact in exact.py's float64 and in
    int64 here, in any order."""
    whole = t - t % SIMD_LANES  # weighted_sum16 takes these; the rest one by one
    for d in range(V.shape[0]):
        Vd = V[d]
        ov = a[t] * np.int64(v[d]) + weighted_sum16(a_hi, a_lo, Vd, np.int64(t))
        for j in range(whole, t):
            ov += a[j] * np.int64(Vd[j])
        sums[d] = ov
    for d in range(o.shape[0]):  # apart from the sums, so that this loop vectorizes
        o[d] = min(max(np.rint(np.float64(sums[d]) * mo / total), -127.0), 127.0)  # as exact.py: two roundings


@njit(cache=True, nogil=True)
def _out_freqs(logits, mhead, out_lut, freqs):
    """The integer frequencies of the logits' exp table (ExactByteGPT.forward's last line)."""
    out_last = out_lut.shape[0] - 1
    lmax = logits.max()
    for j in range(logits.shape[0]):
        k = np.floor((np.float64(lmax) - logits[j]) * mhead)  # float64: the difference can pass 2^24
        freqs[j] = out_lut[out_last if k >= out_last else int(k)]


@njit(cache=True, nogil=True)
def _check_rows(inputs, rows, pos, T):
    """Refuse a step before any row moves: rows in range, inputs 0..BOS, no row at its block's end."""
    for n in range(rows.shape[0]):
        if not 0 <= rows[n] < pos.shape[0]:
            raise IndexError("row out of range")
        if not 0 <= inputs[n] <= BOS:
            raise ValueError("input token out of range 0..256")
        if pos[rows[n]] >= T:
            raise ValueError("row at the end of its block: reset it first")


@njit(cache=True, nogil=True)
def _step(inputs, rows, pos, prev, kc, vc, wte, wte2, wpe, attw, fc, fout, hidden, mult, att, head,
          scalars, att_lut, out_lut, freqs):
    """Advance rows[n] by inputs[n] and write its frequencies to freqs[n], for each n in order."""
    n_layer, _, nh, hs, T = kc.shape
    C = nh * hs
    mhead, norm_mult, rmax = scalars[0], scalars[1], scalars[2]
    _check_rows(inputs, rows, pos, T)
    wt = head.dtype  # the matrix products' inputs and sums: integers, exact in this type
    r = np.empty(C)
    y, o, h = np.empty(C, wt), np.empty(C, wt), np.empty(fc.shape[2], wt)
    acc, acc_k, acc_v = np.empty(max(C, fc.shape[2], head.shape[1]), wt), np.empty(C, wt), np.empty(C, wt)
    for n in range(rows.shape[0]):
        b, x = rows[n], inputs[n]
        t = pos[b]
        for c in range(C):
            r[c] = wte[x, c] + wte2[prev[b], c] + wpe[t, c]
        for li in range(n_layer):
            m = mult[li]
            _norm(r, norm_mult, y)
            _matvec(y, attw[li, 0], acc[:C])
            _matvec(y, attw[li, 1], acc_k)
            _matvec(y, attw[li, 2], acc_v)
            _attend(acc[:C], acc_k, acc_v, m, att[li], att_lut, kc[li, b], vc[li, b], t, o)
            _matvec(o, attw[li, 3], acc[:C])
            _add_scaled(r, acc[:C], m[MPROJ], rmax)
            H = hidden[li]
            _norm(r, norm_mult, y)
            _matvec(y, fc[li], acc[:H])
            _requant(acc[:H], m[MFC], 0.0, 255.0, h[:H])
            _matvec(h[:H], fout[li], acc[:C])
            _add_scaled(r, acc[:C], m[MOUT], rmax)
        _norm(r, norm_mult, y)
        logits = acc[:head.shape[1]]
        _matvec(y, head, logits)
        _out_freqs(logits, mhead, out_lut, freqs[n])
        pos[b], prev[b] = t + 1, x
