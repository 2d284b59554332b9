"""Tests of the sparse quantized weight codec (mdlzip.codec.weights)."""
from __future__ import annotations

import numpy as np
import pytest

from mdlzip.codec.weights import MAX_ELEMENTS, decode_tensors, encode_tensors
from mdlzip.errors import FormatError


def gaussian_codes(rng, shape, qmax: int, density: float, prune: str = "magnitude") -> np.ndarray:
    """Rounded N(0, qmax/4) codes, pruned to `density` by magnitude or by a random mask."""
    x = np.clip(np.round(rng.normal(0, qmax / 4, shape)), -qmax, qmax)
    if prune == "magnitude":
        keep = np.abs(x + rng.uniform(-0.5, 0.5, shape)) >= np.quantile(np.abs(x), 1 - density)
    else:
        keep = rng.random(shape) < density
    return np.where(keep, x, 0).astype(np.int16)


def empirical_bits(c: np.ndarray) -> float:
    """i.i.d. empirical entropy in bits of c: one Bernoulli mask plus the histogram of nonzeros."""
    nz = c != 0
    counts = np.array([nz.size - nz.sum(), nz.sum()] + list(np.unique(c[nz], return_counts=True)[1]), float)
    ent = lambda k: float(np.sum(k[k > 0] * np.log2(k.sum() / k[k > 0])))
    return ent(counts[:2]) + ent(counts[2:])


def roundtrip(codes, qmax: int) -> bytes:
    blob = encode_tensors(codes, qmax)
    out = decode_tensors(blob, [np.shape(c) for c in codes], qmax)
    assert len(out) == len(codes)
    for a, c in zip(out, codes):
        assert a.dtype == np.int16 and a.shape == np.shape(c)
        np.testing.assert_array_equal(a, c)
    return blob


def test_empty_list():
    assert roundtrip([], 7) == b""


@pytest.mark.parametrize("qmax", [1, 7, 31, 127, 32767])
def test_edge_tensors(qmax):
    rng = np.random.default_rng(qmax)
    codes = [
        np.zeros((0,), np.int8), np.zeros((3, 0, 2), np.int32),  # size 0
        np.zeros((64, 64), np.int16), np.zeros((1,), np.int16),  # all zero
        np.array([[qmax]]), np.array([[-qmax]]), np.array(5 % qmax), np.array([[0]]),  # 1x1, scalar
        rng.integers(1, qmax + 1, (17, 33)) * rng.choice([-1, 1], (17, 33)),  # dense, no zeros
        rng.choice([-qmax, 0, qmax], (50, 40)).astype(np.int32),  # only the extremes
        rng.integers(-qmax, qmax + 1, 1000).astype(np.int64),  # 1-D
        rng.integers(-qmax, qmax + 1, (4, 5, 6)),  # 3-D
    ]
    roundtrip(codes, qmax)


@pytest.mark.parametrize("qmax", [7, 31, 127, 32767])
@pytest.mark.parametrize("density", [0.01, 0.2, 0.5, 0.9, 1.0])
def test_sparse_gaussian_roundtrip(qmax, density):
    rng = np.random.default_rng(int(density * 100) + qmax)
    roundtrip([gaussian_codes(rng, (128, 384), qmax, density),
               gaussian_codes(rng, (64, 32), qmax, density, "random")], qmax)


def test_row_and_column_masks_roundtrip_and_pay():
    """Densities that vary by row (or column) are coded below the one-Bernoulli entropy."""
    rng = np.random.default_rng(1)
    p = rng.uniform(0.02, 0.9, (300, 1))
    for c in [np.where(rng.random((300, 200)) < p, 3, 0), np.where(rng.random((200, 300)) < p.T, -2, 0)]:
        c[:5] = 0  # empty rows too
        c[7] = np.where(np.arange(c.shape[1]) % 2, 1, -1)  # and full ones
        blob = roundtrip([c], 3)
        assert 8 * len(blob) < 0.88 * empirical_bits(c)


def test_deterministic():
    rng = np.random.default_rng(2)
    codes = [gaussian_codes(rng, (64, 100), 31, 0.3)]
    assert encode_tensors(codes, 31) == encode_tensors([c.copy() for c in codes], 31)


@pytest.mark.parametrize("prune", ["magnitude", "random"])
def test_bits_per_nonzero(prune):
    """256x1024 Gaussian codes, qmax 31, density 0.3: within 0.02 bits per nonzero of the i.i.d.
    entropy, and below 8 bits per nonzero when magnitude-pruned (a random mask has ~7.99 bits of
    entropy per nonzero, so no i.i.d. coder gets it below 8)."""
    c = gaussian_codes(np.random.default_rng(3), (256, 1024), 31, 0.3, prune)
    blob = roundtrip([c], 31)
    nnz = np.count_nonzero(c)
    assert 8 * len(blob) < empirical_bits(c) + 0.02 * nnz
    if prune == "magnitude":
        assert 8 * len(blob) / nnz < 8.0


def test_encoder_rejects_bad_input():
    with pytest.raises(ValueError):
        encode_tensors([np.array([8])], 7)
    with pytest.raises(ValueError):
        encode_tensors([np.array([0.5])], 7)
    with pytest.raises(ValueError):
        encode_tensors([], 0)


def _corpus() -> tuple[bytes, list[tuple[int, ...]], int]:
    rng = np.random.default_rng(4)
    row_mask = np.where(rng.random((20, 16)) < rng.random((20, 1)), 7, 0)
    codes = [gaussian_codes(rng, (24, 40), 15, 0.3), np.zeros((5, 5), np.int16),
             gaussian_codes(rng, (30, 8), 15, 1.0), row_mask]
    return encode_tensors(codes, 15), [c.shape for c in codes], 15


def _decodes_or_format_error(blob: bytes, shapes, qmax: int) -> bool:
    """True if blob decoded to well-formed arrays, False if it raised FormatError."""
    try:
        out = decode_tensors(blob, shapes, qmax)
    except FormatError:
        return False
    assert [a.shape for a in out] == [tuple(s) for s in shapes]
    assert all(a.dtype == np.int16 and (np.abs(a) <= qmax).all() for a in out)
    return True


def test_truncated_blob_raises():
    blob, shapes, qmax = _corpus()
    for n in range(len(blob)):
        with pytest.raises(FormatError):
            decode_tensors(blob[:n], shapes, qmax)


def test_bit_flips_and_garbage_never_crash():
    blob, shapes, qmax = _corpus()
    rng = np.random.default_rng(5)
    decoded = 0
    for i in range(1500):
        bad = bytearray(blob)
        for pos in rng.integers(0, 8 * len(bad), 1 + i % 3):
            bad[pos // 8] ^= 1 << (pos % 8)
        decoded += _decodes_or_format_error(bytes(bad), shapes, qmax)
    assert decoded < 1500
    for n in [0, 1, 3, 4, 17, 64, 1000]:
        for _ in range(20):
            _decodes_or_format_error(rng.bytes(n), shapes, qmax)
    _decodes_or_format_error(b"\xff" * 40, shapes, qmax)  # overlong varint


def test_wrong_shapes_and_arguments_raise():
    blob, shapes, qmax = _corpus()
    bad_shapes = [shapes[:-1], shapes + [(3, 3)], [(25, 40)] + shapes[1:], [(24, 41)] + shapes[1:],
                  [(-24, -40)] + shapes[1:], [(MAX_ELEMENTS, 2)] + shapes[1:], [None] + shapes[1:]]
    for s in bad_shapes:
        with pytest.raises(FormatError):
            decode_tensors(blob, s, qmax)
    for q in (0, 32768):
        with pytest.raises(FormatError):
            decode_tensors(blob, shapes, q)
    # The blob does not record shapes (the CONFIG section does): a grid of the same size decodes,
    # to well-formed codes of the shape asked for.
    assert _decodes_or_format_error(blob, [(40, 24)] + shapes[1:], qmax) is True
