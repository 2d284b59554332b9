"""The coding model one position at a time for many rows at once: the stepper of exact_numba.py with
each matrix product done for all rows in one BLAS call (torch's), and the rest row by row in numba.

`BatchedStepper(model, rows)` has `ExactStepper`'s contract (reset, step, positions) and returns
the same frequencies bit for bit: every matrix product is of integers whose partial sums are exact
in the type exact.py chose for it (float32 below 2^24, else float64), so a BLAS kernel's order of
summation, its blocking, its FMA and its threads cannot change a sum; the scales, the attention
and the output table are exact_numba's own row functions. What changes is speed on wide batches:
one row at a time, every row reads every weight matrix again (4 layers of width 128: 3 MB per
byte), where one product per step reads it once for all rows. Below BATCH_MIN rows exact_numba's
single call per step is faster (torch's per-call cost is paid per step, not per row).

Where every weight code fits in int8 (5-bit codes always do), the products are of int8 matrices
summed in int32 (`torch._int_mm`, which quantized inference in torch runs on: VNNI on CPUs that
have it, about 4x float32's speed here): every sum is an integer below 2^31 (checked: `_int8`),
exact in any order. The MLP's hidden codes (0..255) enter it shifted to -128..127, and the output
product gets 128 times its weights' column sums back (`_out_bias`), so the sums are the same
integers. Other models multiply in float32 or float64, as exact.py chose.

torch must multiply float32 matrices in float32: a lowered matmul precision (bf16 or TF32 inside
float32 products, `torch.set_float32_matmul_precision`) would round the sums, so `step` holds
exact.exact_products while it runs.
"""
from __future__ import annotations

import numpy as np
import torch
import numba
from numba import njit, prange

from .exact import exact_products
from .exact_numba import MFC, MOUT, MPROJ, ExactStepper, _add_scaled, _attend, _check_rows, _norm, _out_freqs

BATCH_MIN = 32  # rows per step from which one product per matrix beats a row-at-a-time kernel (measured,
# `scripts/time_mixed.py --kernels`: at 1,024 lanes level 6 decodes 2.1x faster than row at a time, level 9 2.5x)


HIDDEN_SHIFT = 128  # the hidden codes 0..255 enter the output product as h - 128, int8


class BatchedStepper(ExactStepper):
    """`ExactStepper` whose steps of BATCH_MIN rows or more multiply all rows' matrices at once."""

    def __init__(self, model, rows: int):
        super().__init__(model, rows)
        w, cfg = self._w, self.cfg
        mats = {"qkv": [np.concatenate(list(w.attw[li, :3]), axis=1) for li in range(cfg.n_layer)],  # (C, 3C)
                "proj": [w.attw[li, 3] for li in range(cfg.n_layer)],  # (C, C)
                "fc": [w.fc[li, :, :w.hidden[li]] for li in range(cfg.n_layer)],  # (C, H)
                "out": [w.out[li, :w.hidden[li]] for li in range(cfg.n_layer)],  # (H, C)
                "head": [w.head]}  # (C, 256)
        self._int = all(_int8(m) for ms in mats.values() for m in ms)
        as_torch = lambda x: torch.from_numpy(np.ascontiguousarray(x, np.int8 if self._int else x.dtype))
        self._qkv, self._proj, self._fc, self._out = ([as_torch(m) for m in mats[k]] for k in ("qkv", "proj", "fc", "out"))
        self._head = as_torch(w.head)
        self._out_bias = [_out_bias(m, np.int32 if self._int else w.head.dtype) for m in mats["out"]]  # (C,)
        C, H = cfg.n_embd, int(w.hidden.max())
        self._r = np.empty((rows, C))  # residual stream
        # a product's input (norm codes, attention output, shifted hidden codes) and its output
        self._x = np.empty(rows * max(C, H), np.int8 if self._int else w.head.dtype)
        self._acc = np.empty(rows * max(3 * C, H, 256), np.int32 if self._int else w.head.dtype)

    def step(self, inputs, rows=None) -> np.ndarray:
        inputs, rows = self._checked(inputs, rows)
        if len(rows) < BATCH_MIN:
            return super().step(inputs, rows)
        w, n, C = self._w, len(rows), self.cfg.n_embd
        _check_rows(inputs, rows, self._pos, self.cfg.block_size)
        norm_mult, rmax = w.scalars[1], w.scalars[2]
        r = self._r[:n]
        x = self._x[:n * C].reshape(n, C)  # (n, C) views of the buffers, contiguous for BLAS
        _embed(inputs, rows, self._pos, self._prev, w.wte, w.wte2, w.wpe, r)
        mm = torch._int_mm if self._int else torch.mm

        def product(x: np.ndarray, weight: torch.Tensor) -> np.ndarray:  # x @ weight, exactly: (n, out)
            out = self._acc[:n * weight.shape[1]].reshape(n, weight.shape[1])
            mm(torch.from_numpy(x), weight, out=torch.from_numpy(out))
            return out

        numba.set_num_threads(min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))  # as many as torch's (-T)
        with exact_products():
            for li in range(self.cfg.n_layer):
                m, H = w.mult[li], int(w.hidden[li])
                _norm_rows(r, norm_mult, x)
                qkv = product(x, self._qkv[li])  # (n, 3C)
                _attend_rows(qkv, rows, self._pos, self._k[li], self._v[li], m, w.att[li], w.att_lut, x)
                _add_rows(r, product(x, self._proj[li]), m[MPROJ], rmax)
                _norm_rows(r, norm_mult, x)
                h = self._x[:n * H].reshape(n, H)  # the hidden codes overwrite the norm codes they came from
                _hidden_rows(product(x, self._fc[li]), m[MFC], h)
                out = product(h, self._out[li])
                out += self._out_bias[li]  # the sums of the unshifted hidden codes
                _add_rows(r, out, m[MOUT], rmax)
            _norm_rows(r, norm_mult, x)
            freqs = np.empty((n, 256))
            _freqs_rows(product(x, self._head), w.scalars[0], w.out_lut, freqs)
        self._pos[rows] += 1
        self._prev[rows] = inputs
        return freqs


def _int8(weight: np.ndarray) -> bool:
    """Whether `weight`'s codes fit in int8 and every sum of its products with inputs |x| <= 128 in int32."""
    return bool(np.abs(weight).max(initial=0) <= 127 and np.abs(weight).sum(0).max(initial=0) * 128 < 2**31)


def _out_bias(weight: np.ndarray, dtype) -> np.ndarray:
    """HIDDEN_SHIFT times the column sums of the output weights: (h - 128) @ W + this = h @ W."""
    return (HIDDEN_SHIFT * weight.astype(np.int64).sum(0)).astype(dtype)


# Each row's work below touches only that row: the rows run on numba's threads.

@njit(cache=True, nogil=True, parallel=True)
def _embed(inputs, rows, pos, prev, wte, wte2, wpe, r):
    for n in prange(rows.shape[0]):
        b = rows[n]
        for c in range(r.shape[1]):
            r[n, c] = wte[inputs[n], c] + wte2[prev[b], c] + wpe[pos[b], c]


@njit(cache=True, nogil=True, parallel=True)
def _norm_rows(r, norm_mult, y):
    for n in prange(r.shape[0]):
        _norm(r[n], norm_mult, y[n])


@njit(cache=True, nogil=True, parallel=True)
def _add_rows(r, acc, mult, rmax):
    for n in prange(r.shape[0]):
        _add_scaled(r[n], acc[n], mult, rmax)


@njit(cache=True, nogil=True, parallel=True)
def _hidden_rows(acc, mult, out):
    """The hidden codes clamp(round(acc * mult), 0, 255), stored minus HIDDEN_SHIFT."""
    for n in prange(out.shape[0]):
        for c in range(out.shape[1]):
            out[n, c] = min(max(np.rint(acc[n, c] * mult), 0.0), 255.0) - HIDDEN_SHIFT


@njit(cache=True, nogil=True, parallel=True)
def _freqs_rows(logits, mhead, out_lut, freqs):
    for n in prange(logits.shape[0]):
        _out_freqs(logits[n], mhead, out_lut, freqs[n])


@njit(cache=True, nogil=True, parallel=True)
def _attend_rows(qkv, rows, pos, kc, vc, m, att, att_lut, o):
    """Each row's attention (exact_numba._attend) from its q|k|v products, its output codes into o;
    rows on numba's threads (each touches only its own caches and output row)."""
    C = o.shape[1]
    for n in prange(rows.shape[0]):
        b = rows[n]
        _attend(qkv[n, :C], qkv[n, C:2 * C], qkv[n, 2 * C:], m, att, att_lut, kc[b], vc[b], pos[b], o[n])
