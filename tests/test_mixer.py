"""The context-mixing coder kernel: round trips in lanes, transformer input, params, robustness."""
from __future__ import annotations

import dataclasses
import lzma
import os
import shutil
import subprocess
import sysconfig

import numpy as np
import pytest

from mdlzip.codec import cm_kernel as K
from mdlzip.codec.cm_kernel import SQUASH_KNOTS
from mdlzip.codec.cm_params import FIRST_KERNEL, KERNELS, KINDS, MAX_CONTEXTS, MixParams
from mdlzip.codec import mixer
from mdlzip.codec.layout import lane_layout
from mdlzip.codec.mixer import (
    MixDecoder,
    MixEncoder,
    choose_params,
    decode_adaptive,
    encode_adaptive,
)
from mdlzip.errors import FormatError

SMALL = MixParams(hash_bits=16, match_bits=12)


def _text(n: int) -> bytes:
    words = b"the quick brown fox jumps over a lazy dog while seven wizards quietly hex".split()
    rng = np.random.default_rng(0)
    return b" ".join(words[i] for i in rng.integers(0, len(words), n // 4))[:n]


def _code_stepwise(data: bytes, lane_start, lane_len, freqs_of, params=SMALL) -> tuple[bytes, bytes]:
    """Encode and decode step by step with freqs_of(positions, known bytes) -> (k, 256)."""
    arr = np.frombuffer(data, np.uint8)
    enc = MixEncoder(lane_start, lane_len, params)
    for s in range(int(lane_len.max())):
        lanes = np.flatnonzero(lane_len > s)
        enc.encode_step(lanes, freqs_of(lane_start[lanes] + s, arr), arr[lane_start[lanes] + s])
    blob = enc.finish()
    dec = MixDecoder(blob, lane_start, lane_len, params)
    for s in range(int(lane_len.max())):
        lanes = np.flatnonzero(lane_len > s)
        got = dec.decode_step(lanes, freqs_of(lane_start[lanes] + s, arr))
        assert (got == arr[lane_start[lanes] + s]).all()
    return blob, dec.output()


def test_squash_knots_are_the_logistic():
    x = np.arange(-2048, 2049, 128)
    assert list(SQUASH_KNOTS) == list(np.rint(4096 / (1 + np.exp(-x / 256))).astype(int))


@pytest.mark.parametrize("n_lanes", [1, 3, 64])
@pytest.mark.parametrize("kind", ["random", "text"])
def test_adaptive_round_trip(n_lanes, kind):
    data = np.random.default_rng(n_lanes).bytes(3000) if kind == "random" else _text(5000)
    blob = encode_adaptive(data, n_lanes, SMALL, block=7)
    assert decode_adaptive(blob, len(data), n_lanes, SMALL, block=7) == data
    if kind == "random":  # noise costs the mixers a little (about 2 % at 64 lanes; such a file is stored)
        assert len(blob) < 1.025 * len(data)
    else:
        assert len(blob) < 0.45 * len(data)


@pytest.mark.parametrize("kernel", [2, 3, 4])
def test_every_kernel_round_trips_in_lanes(kernel):
    """Each kernel an archive may name (its coder) decodes what it encodes, with every context kind
    it has (kernel 4: runs in the buckets beside the checks), and codes other bits than the next."""
    kinds = tuple(k for k in KINDS if k != "image" and FIRST_KERNEL.get(k, 2) <= kernel and not k.isdigit())
    p = dataclasses.replace(SMALL, kernel=kernel, contexts=("2", "5", *kinds))
    data = _text(5000) + bytes(range(256)) * 4
    blob = encode_adaptive(data, 3, p, block=7)
    assert decode_adaptive(blob, len(data), 3, p, block=7) == data
    if kernel < max(KERNELS):
        later = dataclasses.replace(p, kernel=kernel + 1)
        assert encode_adaptive(data, 3, later, block=7) != blob


def test_empty_and_tiny():
    for data in (b"", b"a", b"ab"):
        blob = encode_adaptive(data, 4, SMALL)
        assert decode_adaptive(blob, len(data), 4, SMALL) == data


def test_lane_layout():
    start, length = lane_layout(10, 3, 2)  # chunks 3,3,3,1 -> lanes of 2 and 2 chunks
    assert start.tolist() == [0, 6] and length.tolist() == [6, 4]
    start, length = lane_layout(10, 3, 3)  # 4 chunks over 3 lanes: 2, 1, 1
    assert start.tolist() == [0, 6, 9] and length.tolist() == [6, 3, 1]
    start, length = lane_layout(5, 4, 8)
    assert start.tolist() == [0, 4] and length.tolist() == [4, 1]
    assert lane_layout(0, 4, 8)[0].size == 0


def test_stepwise_unequal_lanes_and_transformer_input():
    data = _text(3000)
    lane_start, lane_len = np.array([0, 1000, 1700, 2900]), np.array([1000, 700, 1200, 100])
    ones = lambda pos, arr: np.ones((len(pos), 256))

    def oracle(pos, arr):
        f = np.ones((len(pos), 256))
        f[np.arange(len(pos)), arr[pos]] = 1000
        return f

    def sparse(pos, arr):  # zeros everywhere except a wrong byte: every byte must still be codable
        f = np.zeros((len(pos), 256))
        f[np.arange(len(pos)), (arr[pos].astype(np.int64) + 1) % 256] = 2.0 ** 33 - 1
        return f

    blobs = {}
    for name, fn in (("ones", ones), ("oracle", oracle), ("sparse", sparse)):
        blob, out = _code_stepwise(data, lane_start, lane_len, fn)
        assert out == data
        blobs[name] = len(blob)
    assert blobs["oracle"] < 0.4 * blobs["ones"]


def test_stepwise_equals_adaptive_shortcut():
    data = _text(2000)
    start, length = lane_layout(len(data), 5, 3)
    blob, _ = _code_stepwise(data, start, length, lambda pos, arr: np.ones((len(pos), 256)))
    assert blob == encode_adaptive(data, 3, SMALL, block=5)


def test_repeats_beat_xz():
    block = np.random.default_rng(1).bytes(1024)
    data = block * 50
    blob = encode_adaptive(data, 1, SMALL)
    xz = len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    assert len(blob) < xz
    assert decode_adaptive(blob, len(data), 1, SMALL) == data


def test_params_round_trip_and_validation():
    p = MixParams(hash_bits=18, contexts=("1", "word"))
    assert MixParams.from_dict(p.to_dict(), 4) == p and "kernel" not in p.to_dict()  # the coder's name says it
    assert MixParams.from_dict(p.to_dict(), 2) == dataclasses.replace(p, kernel=2)
    with pytest.raises(ValueError):
        MixParams.from_dict({}, 4)  # every parameter is stored: defaults may change, archives may not
    with pytest.raises(ValueError, match="kernel"):
        MixParams(kernel=5)
    with pytest.raises(ValueError, match="word_triple"):
        MixParams(kernel=3)  # the default set's word_triple came with kernel 4
    with pytest.raises(ValueError, match="word_skip"):
        MixParams(kernel=2, contexts=("2", "word_skip"))  # word_skip came with kernel 3
    assert MixParams().sized_for(1000).hash_bits < MixParams().hash_bits
    assert MixParams().sized_for(10**9) == MixParams()
    bad = [{"hash_bits": 40}, {"hash_bits": "22"}, {"lr": 0}, {"match_min": 1}, {"contexts": []},
           {"contexts": ["2", "2"]}, {"contexts": ["33"]}, {"contexts": "23"}, {"nope": 1},
           {"hash_bits": 28, "match_bits": 26}, {"limit": True}, {"apm_rate": 2.0}]
    for d in bad:
        with pytest.raises(ValueError):
            MixParams.from_dict({**p.to_dict(), **d} if "nope" not in d else d, 3)
    with pytest.raises(ValueError):
        MixParams.from_dict([1, 2], 3)


def test_truncated_and_corrupt_streams_are_caught_or_decode_to_some_bytes():
    data = _text(4000)
    blob = encode_adaptive(data, 3, SMALL)
    rng = np.random.default_rng(2)
    for cut in (0, 1, 5, len(blob) // 2, len(blob) - 1):  # the decoder would read past the end
        with pytest.raises(FormatError, match="coded data ends"):
            decode_adaptive(blob[:cut], len(data), 3, SMALL)
    for _ in range(3):  # a flipped bit: wrong bytes of the right length (the CRC catches them) or caught
        bad = bytearray(blob)
        bad[rng.integers(len(bad))] ^= 0x55
        try:
            assert len(decode_adaptive(bytes(bad), len(data), 3, SMALL)) == len(data)
        except FormatError:
            pass
    for _ in range(3):  # random bytes: caught, or some bytes of the right length (a confident model
        try:            # can read long runs out of few bits: the CRC is what catches those)
            assert len(decode_adaptive(rng.bytes(100), len(data), 3, SMALL)) == len(data)
        except FormatError:
            pass


def test_a_valid_stream_is_read_exactly_to_its_end():
    data = _text(3000)
    for lanes in (1, 4):
        blob = encode_adaptive(data, lanes, SMALL)
        dec = MixDecoder(blob, *lane_layout(len(data), 1, lanes), SMALL)
        dec.decode_rest()
        assert dec.output() == data and dec.regs[K.REG_IN] == len(blob)


def test_wrong_lanes_rejected():
    enc = MixEncoder(np.array([0, 3]), np.array([3, 1]), SMALL)
    with pytest.raises(ValueError):
        enc.encode_step(np.array([0]), np.ones((1, 256)), np.array([1], np.uint8))
    with pytest.raises(ValueError):
        MixEncoder(np.array([0, 4]), np.array([3, 1]), SMALL)


def test_the_c_kernel_shares_the_python_sides_constants():
    shared = K.c_constants()
    assert shared.pop("N_STATE_WORDS") == len(K.C_STATE)
    assert shared.pop("MAX_CONTEXTS") == MAX_CONTEXTS
    assert shared and all(getattr(K, name) == value for name, value in shared.items())


def test_state_arrays_of_the_wrong_type_or_size_are_refused():
    """make_state stands between the arrays and the C code: a wrong one is an exception, not a wild write."""
    enc = MixEncoder([0], [100], SMALL)
    arrays = {f: getattr(enc.state, f) for f in enc.state._fields if f != "words"}
    for name, bad in [("ht", arrays["ht"][:-16]), ("weights", arrays["weights"].astype(np.int64)),
                      ("apm", arrays["apm"][::2]), ("data", arrays["data"][:50])]:
        with pytest.raises(ValueError):
            K.make_state(**{**arrays, name: bad})
    lanes, syms = np.zeros(1, np.int64), np.zeros(1, np.int64)
    for args in [(lanes.astype(np.int32), np.ones((1, 256)), syms), (lanes, np.ones((1, 255)), syms),
                 (lanes + 1, np.ones((1, 256)), syms), (lanes, np.ones((1, 256), np.float32), syms)]:
        with pytest.raises(ValueError):
            K.code_step(K.COMPRESS, *args, enc.state)


@pytest.mark.parametrize("kernel", KERNELS)
def test_an_unoptimized_build_of_the_kernel_codes_the_same_bits(tmp_path, kernel):
    """cm_kernel.c built without optimization (nothing vectorized, no instruction-set clone) codes what
    the installed build codes: the bits depend on the integer arithmetic alone, not on the compiler."""
    cc = shutil.which(sysconfig.get_config_var("CC").split()[0]) if sysconfig.get_config_var("CC") else None
    if cc is None:
        pytest.skip("no C compiler")
    so = tmp_path / "cm_O0.so"
    source = os.path.join(os.path.dirname(K.__file__), "cm_kernel.c")
    subprocess.run([cc, "-O0", "-shared", "-fPIC", f"-I{sysconfig.get_paths()['include']}", source, "-o", str(so)],
                   check=True, capture_output=True, timeout=120)
    lib = K.bind(str(so))
    kinds = tuple(k for k in KINDS if FIRST_KERNEL.get(k, 2) <= kernel and not k.isdigit()) + ("1", "3")
    params = dataclasses.replace(SMALL, contexts=kinds, kernel=kernel)
    data = _text(3000) + bytes(range(256)) * 4 + _text(1000)
    start, length = lane_layout(len(data), 1, 2)
    enc = MixEncoder(start, length, params)
    src = np.frombuffer(data, np.uint8)
    assert lib.cm_code_adaptive(K.COMPRESS, src.ctypes.data, 0, len(data), enc.state.words.ctypes.data) > 0
    assert enc.finish() == encode_adaptive(data, 2, params)


def test_choose_params_keeps_the_candidate_that_measured_smaller():
    data = _text(6000)
    weak = dataclasses.replace(SMALL, contexts=("1",))
    sizes = {p: len(encode_adaptive(data, 1, p)) for p in (weak, SMALL)}
    assert sizes[SMALL] < sizes[weak]
    assert choose_params(data, [weak, SMALL]) == SMALL == choose_params(data, [SMALL, weak])
    assert choose_params(data, [weak, SMALL], workers=2) == SMALL == choose_params(data, [SMALL, weak], workers=2)
    assert choose_params(data, [weak]) == weak  # one candidate: nothing to measure


def test_encode_chosen_codes_what_choosing_first_codes(monkeypatch):
    """The first candidate's coding, started beside the trials, gives the same choice and bytes as
    choosing first; where another candidate wins it is abandoned part way, not finished."""
    data = _text(6000)
    weak = dataclasses.replace(SMALL, contexts=("1",))
    for candidates in ([SMALL, weak], [weak, SMALL]):
        for workers in (1, 2):
            assert mixer.encode_chosen(data, candidates, 1, workers) == (SMALL, encode_adaptive(data, 1, SMALL))
    coders, original = [], mixer._coded

    def coded(*args, **kwargs):
        coders.append(original(*args, **kwargs))
        return coders[-1]

    big = _text(100_000)
    monkeypatch.setattr(mixer, "BYTES_PER_CALL", 512)
    monkeypatch.setattr(mixer, "_coded", coded)
    monkeypatch.setattr(mixer, "choose_params", lambda data, candidates, workers: candidates[1])
    assert mixer.encode_chosen(big, [SMALL, weak], 1, 2) == (weak, encode_adaptive(big, 1, weak))
    assert coders[0].step < len(big)  # the first candidate's coding stopped when the choice fell elsewhere


def test_a_bytearray_is_coded_in_place_and_left_unchanged():
    """The encoder uses a writable input as its own copy of the bytes (a large input is held once):
    the same stream as from bytes, in 3 lanes too, and the input unchanged."""
    data = _text(6000)
    for lanes in (1, 3):
        buf = bytearray(data)
        assert encode_adaptive(buf, lanes, SMALL) == encode_adaptive(data, lanes, SMALL)
        assert buf == data
    buf = bytearray(data)
    enc = MixEncoder(*lane_layout(len(buf), 1, 1), SMALL, in_place=np.frombuffer(buf, np.uint8))
    assert np.shares_memory(enc.state.data, np.frombuffer(buf, np.uint8))
    assert len(enc.state.known) == -(-len(data) // 8)  # coded flags: one bit a byte


def test_an_input_larger_than_the_buffers_streams_through_them(monkeypatch):
    """The encoder's output buffer is flushed and reused, and the kernel returns to Python every
    BYTES_PER_CALL bytes: with both tiny, 20 KB of noise (its code about as long) goes through them
    hundreds of times and gives the same stream as in one piece, which decodes."""
    from mdlzip.codec import mixer

    data = np.random.default_rng(5).bytes(20_000) + _text(4000)
    whole = encode_adaptive(data, 1, SMALL)
    monkeypatch.setattr(mixer, "OUT_ROOM", 0)  # the least the encoder allows: two steps' worst case
    monkeypatch.setattr(mixer, "BYTES_PER_CALL", 97)
    flushed = []
    real = MixEncoder._make_room
    monkeypatch.setattr(MixEncoder, "_make_room", lambda self, k: (flushed.append(len(self._chunks)), real(self, k)))
    assert encode_adaptive(data, 1, SMALL) == whole
    assert max(flushed) > 100  # the output went through the buffer in more than 100 pieces
    assert decode_adaptive(whole, len(data), 1, SMALL) == data

