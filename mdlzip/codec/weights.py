"""Lossless codec for the sparse integer weight codes of the pruned network.

Blob = the headers of all tensors, in order, as unsigned LEB128 varints, then one range-coded
stream to the end of the blob: the ``uint32`` words of a constriction ``queue.RangeEncoder``
(its default 24-bit models; every ``Categorical`` with ``perfect=False`` and float64 integer
counts as probabilities), little-endian ``<u4``. Size-0 tensors contribute nothing.

Header of a tensor of ``size`` elements::

    nnz                              number of nonzero codes, <= size
    mode     if 0 < nnz < size       mask model: 0 one Bernoulli, 1 per row, 2 per column
    neg      if nnz > 0              number of negative codes, <= nnz
    s        if nnz > 0              bucket precision, 0..14
    B        if nnz > 0              number of magnitude buckets, <= bucket(qmax - 1) + 1
    count[b] for b < B               nonzeros in bucket b; the counts sum to nnz

Stream, tensor after tensor, each in this order (a part with a single possible value is absent):

1. Mask (1 = nonzero), if ``0 < nnz < size``. Mode 0: all ``size`` bits in C order,
   Categorical(size - nnz, nnz). Modes 1 and 2 view the tensor as a ``rows x cols`` grid,
   ``rows = shape[0]`` if ``ndim >= 2`` else 1, ``cols = size // rows``; mode 1 codes its ``r =
   rows`` rows of ``L = cols`` bits, mode 2 its ``r = cols`` columns of ``L = rows`` bits (top
   to bottom), and needs ``r >= 2`` and ``L + 1 < 2**24``. First the nonzero count ``k`` of each
   row (column), Uniform(L + 1); then for each distinct ``k`` with ``0 < k < L``, ascending, the
   bits of the rows (columns) with that ``k``, in order, Categorical(L - k, k).
2. Signs of the nonzeros in C order (1 = negative), Categorical(nnz - neg, neg), if 0 < neg < nnz.
3. Bucket of ``v = |code| - 1`` for each nonzero in C order, Categorical(count), if ``B > 1``.
   With ``t = max(0, bit_length(v) - 1 - s)``: ``bucket = (t << s) + (v >> t)``; conversely
   ``t = max(0, (bucket >> s) - 1)``, ``v = ((bucket - (t << s)) << t) + offset``. So values
   below ``2**(s+1)`` are exact and each octave above has ``2**s`` buckets.
4. Offsets ``v & (2**t - 1)``: for each ``t >= 1`` that occurs, ascending, those of the
   nonzeros with that ``t`` in C order, Uniform(2**t).

The encoder picks the mode and ``s`` of the fewest estimated bits. The decoder checks each header
value against its cap (from the shapes, qmax and the bytes left) before allocating, that row
counts and decoded masks and histograms agree with the header, that the stream is used up, and
that no code exceeds qmax; anything else raises FormatError.
"""
from __future__ import annotations

from typing import Sequence

import constriction
import numpy as np

from .. import varint
from ..errors import FormatError

MAX_ELEMENTS = 1 << 26  # elements of all tensors of one blob: bounds the decoder's memory
_MAX_S = 14  # with s = 14 every magnitude up to 32767 has its own bucket
_UNIFORM_MAX = 1 << 24  # constriction's Uniform needs 2 <= size < 2**24


def _cat(counts) -> object:
    """Categorical model of the given integer counts (float64, so exact and the same everywhere)."""
    return constriction.stream.model.Categorical(np.asarray(counts, np.float64), perfect=False)


def _uniform(size: int) -> object:
    return constriction.stream.model.Uniform(int(size))


def _grid(shape: tuple[int, ...], size: int) -> tuple[int, int]:
    rows = shape[0] if len(shape) >= 2 else 1
    return rows, size // rows


def _buckets(v: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Bucket index and offset width t of each v >= 0 (int64), as in step 3 of the layout."""
    t = np.maximum(np.frexp(v.astype(np.float64))[1] - 1 - s, 0)
    return (t << s) + (v >> t), t


def _bits(k: np.ndarray, n) -> float:
    """Code length in bits of k[i] occurrences of symbols of probability k[i] / n (0 log 0 = 0)."""
    k = np.asarray(k, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.nansum(k * np.log2(n / k)))


def _best_mask_mode(mask: np.ndarray) -> int:
    """Mask model (0, 1, 2) of the fewest estimated bits, parameters included."""
    nnz = mask.sum()
    cost = [_bits([nnz, mask.size - nnz], mask.size)]
    for m in (mask, mask.T):
        (r, L), k = m.shape, m.sum(1)
        ok = L + 1 < _UNIFORM_MAX and r > 1
        cost.append(_bits(k, L) + _bits(L - k, L) + r * np.log2(L + 1) if ok else np.inf)
    return int(np.argmin(cost))


def _encode_one(c: np.ndarray, head: bytearray, enc) -> None:
    """Appends the header of tensor c to head and its symbols to the range encoder enc."""
    flat = c.reshape(-1).astype(np.int64)
    nz = flat != 0
    nnz = int(nz.sum())
    head += varint.encode(nnz)
    if 0 < nnz < flat.size:
        mask = nz.reshape(_grid(c.shape, flat.size))
        mode = _best_mask_mode(mask)
        head += varint.encode(mode)
        if mode == 0:
            enc.encode(nz.astype(np.int32), _cat([flat.size - nnz, nnz]))
        else:
            m = mask if mode == 1 else mask.T
            k, L = m.sum(1), m.shape[1]
            enc.encode(k.astype(np.int32), _uniform(L + 1))
            for x in np.unique(k[(k > 0) & (k < L)]):
                enc.encode(m[k == x].ravel().astype(np.int32), _cat([L - x, x]))
    if nnz == 0:
        return
    v = flat[nz]
    neg = int((v < 0).sum())
    mag = np.abs(v) - 1
    best = None
    for s in range(_MAX_S + 1):  # the bucket precision of the fewest estimated bits, table included
        b, t = _buckets(mag, s)
        counts = np.bincount(b)
        table = varint.encode(len(counts)) + b"".join(map(varint.encode, counts.tolist()))
        cost = _bits(counts, nnz) + t.sum() + 8 * len(table)
        if best is None or cost < best[0]:
            best = cost, s, b, t, counts, table
        if mag.max() < 1 << (s + 1):  # every bucket already exact
            break
    _, s, b, t, counts, table = best
    head += varint.encode(neg) + varint.encode(s) + table
    if 0 < neg < nnz:
        enc.encode((v < 0).astype(np.int32), _cat([nnz - neg, neg]))
    if len(counts) > 1:
        enc.encode(b.astype(np.int32), _cat(counts))
    for w in np.unique(t[t > 0]):
        enc.encode((mag[t == w] & ((1 << w) - 1)).astype(np.int32), _uniform(1 << w))


def encode_tensors(codes: Sequence[np.ndarray], qmax: int) -> bytes:
    """Each array holds integer codes in [-qmax, qmax] (any int dtype, any shape, mostly zeros allowed, size 0 allowed). Returns one byte string."""
    if not 1 <= qmax <= 32767:
        raise ValueError(f"qmax {qmax} not in 1..32767")
    arrays = [np.asarray(c) for c in codes]
    if sum(a.size for a in arrays) > MAX_ELEMENTS:
        raise ValueError(f"more than {MAX_ELEMENTS} elements")
    head, enc = bytearray(), constriction.stream.queue.RangeEncoder()
    for a in arrays:
        if a.size:
            if a.dtype.kind not in "iu" or a.min() < -qmax or a.max() > qmax:
                raise ValueError(f"codes must be integers in [-{qmax}, {qmax}]")
            _encode_one(a, head, enc)
    return bytes(head) + enc.get_compressed().astype("<u4").tobytes()


class _Reader:
    """Reads the varint header, raising FormatError on truncation or a value above its cap."""

    def __init__(self, blob: bytes) -> None:
        self.blob, self.pos = blob, 0

    def uint(self, cap: int) -> int:
        n, self.pos = varint.decode(self.blob, self.pos, len(self.blob), "the weights header")
        if n > cap:
            raise FormatError(f"weights header value {n} exceeds its limit {cap}")
        return n


def _read_header(r: _Reader, size: int, qmax: int) -> dict:
    h: dict = {"nnz": r.uint(size)}
    if 0 < h["nnz"] < size:
        h["mode"] = r.uint(2)
    if h["nnz"]:
        h["neg"], h["s"] = r.uint(h["nnz"]), r.uint(_MAX_S)
        cap = int(_buckets(np.array([qmax - 1]), h["s"])[0][0]) + 1
        B = r.uint(min(cap, len(r.blob) - r.pos))  # each count takes at least a byte
        h["counts"] = np.array([r.uint(h["nnz"]) for _ in range(B)], np.int64)
        if h["counts"].sum() != h["nnz"]:
            raise FormatError("weights header: bucket counts do not sum to nnz")
    return h


def _decode_mask(dec, h: dict, shape: tuple[int, ...], size: int) -> np.ndarray:
    """The flat boolean mask of nonzeros, step 1 of the layout."""
    nnz = h["nnz"]
    if nnz in (0, size):
        return np.full(size, nnz > 0)
    rows, cols = _grid(shape, size)
    if h["mode"] == 0:
        mask = dec.decode(_cat([size - nnz, nnz]), size).astype(bool)
        if mask.sum() != nnz:
            raise FormatError("weights: mask does not match nnz")
        return mask
    r, L = (rows, cols) if h["mode"] == 1 else (cols, rows)
    if L + 1 >= _UNIFORM_MAX or r < 2:
        raise FormatError("weights: mask mode not allowed for this shape")
    k = dec.decode(_uniform(L + 1), r).astype(np.int64)
    if k.sum() != nnz:
        raise FormatError("weights: row counts do not sum to nnz")
    m = np.zeros((r, L), bool)
    m[k == L] = True
    for x in np.unique(k[(k > 0) & (k < L)]):
        sel = k == x
        bits = dec.decode(_cat([L - x, x]), int(sel.sum()) * L).reshape(-1, L)
        if (bits.sum(1) != x).any():
            raise FormatError("weights: mask row does not match its count")
        m[sel] = bits.astype(bool)
    return (m if h["mode"] == 1 else m.T).reshape(-1)


def _decode_values(dec, h: dict, qmax: int) -> np.ndarray:
    """The nonzero codes in C order, steps 2 to 4 of the layout."""
    nnz, neg, s, counts = h["nnz"], h["neg"], h["s"], h["counts"]
    sign = np.full(nnz, neg > 0) if neg in (0, nnz) else dec.decode(_cat([nnz - neg, neg]), nnz).astype(bool)
    b = dec.decode(_cat(counts), nnz).astype(np.int64) if len(counts) > 1 else np.zeros(nnz, np.int64)
    if not np.array_equal(np.bincount(b, minlength=len(counts)), counts):
        raise FormatError("weights: decoded magnitudes do not match their histogram")
    t = np.maximum((b >> s) - 1, 0)
    mag = (b - (t << s)) << t
    for w in np.unique(t[t > 0]):
        mag[t == w] += dec.decode(_uniform(1 << w), int((t == w).sum()))
    if mag.max() >= qmax:
        raise FormatError("weights: magnitude above qmax")
    return np.where(sign, -(mag + 1), mag + 1)


def decode_tensors(blob: bytes, shapes: Sequence[tuple[int, ...]], qmax: int) -> list[np.ndarray]:
    """Exact inverse given the shapes (the caller knows them from the archive's config). Returns np.int16 arrays."""
    if not 1 <= qmax <= 32767:
        raise FormatError(f"qmax {qmax} not in 1..32767")
    try:
        shapes = [tuple(int(d) for d in s) for s in shapes]
    except (TypeError, ValueError) as e:
        raise FormatError(f"bad tensor shapes: {e}") from None
    sizes = [int(np.prod(s, dtype=object)) for s in shapes]
    if any(d < 0 for s in shapes for d in s) or sum(sizes) > MAX_ELEMENTS:
        raise FormatError("tensor shapes negative or too large")
    r = _Reader(bytes(blob))
    heads = [_read_header(r, n, qmax) if n else None for n in sizes]
    if (len(r.blob) - r.pos) % 4:
        raise FormatError("weights stream is not a whole number of 32-bit words")
    words = np.frombuffer(r.blob, "<u4", offset=r.pos).astype(np.uint32)
    out = []
    try:
        dec = constriction.stream.queue.RangeDecoder(words)
        for h, shape, size in zip(heads, shapes, sizes):
            a = np.zeros(size, np.int16)
            if h is not None and h["nnz"]:
                mask = _decode_mask(dec, h, shape, size)  # the stream holds the mask first
                a[mask] = _decode_values(dec, h, qmax)
            out.append(a.reshape(shape))
        if not dec.maybe_exhausted():
            raise FormatError("weights stream has trailing data")
    except FormatError:
        raise
    except Exception as e:  # constriction rejecting corrupt data, whatever its exception type
        raise FormatError(f"corrupt weights stream: {e}") from None
    return out
