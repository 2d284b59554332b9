"""Context-mixing coder: the transformer's next-byte distribution mixed with adaptive statistics.

Each byte is coded as 8 binary decisions. For every bit, five gated logistic mixers (weight sets
chosen by the partial byte, by match state / context hits / bit position, by the previous byte, by
the byte before it, and by the classes of those two bytes with the bit position; kernel 2 has the
first four; their outputs combined by a final mixer selected by the partial byte) combine the
stretched predictions of: a bias, direct order-0 and order-1 counters, hashed contexts (orders
1..32 of the lane's own history, the current word with the last byte and with one, two or the
second-last of the words before it, the byte above in the previous line with the column and the
last byte, the bytes one and two records back under a record length detected from repeats, a
bitmap's pixels), each seen through a direct counter, through its bit history's state map and
(kernel 4) through its run, a match model (the byte that followed the longest recent occurrence of
the last `match_min` bytes, with a strength learned per match length), and the transformer's
probability of the bit (its frequencies summed over the two halves of the current subtree). Three
APMs (order 0, order 1, hashed order 2; kernel 4: order 3) refine the mixed probability, which
drives a binary arithmetic coder. All of it is integer arithmetic in the C kernel (cm_kernel.c,
through cm_kernel.py), identical in encoder and decoder.

Coding order ("lanes"): the n bytes are split into L contiguous lanes; at step s each lane j with
s < lane_len[j], in increasing j, codes its byte lane_start[j] + s. All lanes share all adaptive
state. Contexts come from the lane's own history (zero before its start); the match model may
point anywhere but reads only bytes already coded.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from tqdm import tqdm

from .. import runtime
from ..errors import FormatError
from . import bit_history as BH
from . import cm_kernel as K
from .cm_params import KINDS, MixParams
from .layout import lane_layout

SQUASH = K.squash_table()
STRETCH = K.stretch_table(SQUASH)
RATES = K.rate_table()
DEFAULT_PARAMS = MixParams()  # frozen, so safe as the argument default
# a state map's counters start at the state's own estimate (n1 + 1/2) / (n0 + n1 + 1), count 0
SM_INIT = np.zeros(256, np.uint32)
SM_INIT[:BH.N_STATES] = ((2 * BH.COUNTS[:, 1] + 1) * (1 << 21) // (BH.COUNTS.sum(axis=1) + 1)) << K.COUNT_BITS


def _apm_init() -> np.ndarray:
    """The APMs' initial knots: every row the identity, knot k = squash((k - 16) * 128) in 16 bits."""
    knots = (np.arange(K.APM_KNOTS) - K.APM_KNOTS // 2) * (1 << K.APM_STEP_BITS)
    row = SQUASH[np.clip(knots, -K.SQ_OFFSET, K.LOGIT_MAX) + K.SQ_OFFSET] * (1 << K.APM_SCALE_BITS)
    return np.tile(row.astype(np.uint16), K.APM_ROWS)


APM_INIT = _apm_init()  # copied into every new coder (building it each time took most of a small block's time)
# Bytes coded per kernel call without a transformer: the kernel returns to Python this often
# (0.3-0.7 s at 1 lane), so Ctrl-C is honoured and progress can be shown.
BYTES_PER_CALL = 1 << 17
# The encoder's output buffer: when a step might not fit, what it holds moves to a list of pieces and
# it is reused (the kernel returns early for that), so a large input's code is never one
# preallocated array; at least two steps' worst case (OUT_PER_BYTE per lane).
OUT_ROOM = 1 << 20


def _new_state(lane_start: np.ndarray, lane_len: np.ndarray, params: MixParams, out: np.ndarray,
               blob: np.ndarray, trust_model: bool = False, data: np.ndarray | None = None) -> K.State:
    """The initial state of a coder (cm_kernel.State): every table at its start value, `data` the
    bytes' array (zeros where None; the encoder may pass the input itself: the kernel reads only
    bytes its `known` bitmap marks coded, and writes each byte's own value). With
    `trust_model` every mixer starts with the transformer's input alone (weight 1, the others 0),
    so a short stream is coded under the model from its first bit and the mixing is learnt from
    there (a dataset's blocks, FORMAT.md §6.3); else every input starts at WEIGHT_INIT, the match's at
    MATCH_WEIGHT_INIT (kernel 2: every one at WEIGHT_INIT_K2)."""
    p = params
    n, nh = int(lane_len.sum()), len(p.contexts)
    nin = K.per_context(p.kernel) * nh + K.N_FIXED
    lane_tab = np.zeros((len(lane_start), K.N_LANE_COLS), np.int64)
    lane_tab[:, K.LANE_START], lane_tab[:, K.LANE_LEN] = lane_start, lane_len
    lane_tab[:, K.LANE_LINE], lane_tab[:, K.LANE_PREV_LINE] = lane_start, -1

    k2 = p.kernel < 3
    weights = np.full((K.mixer_rows(nh), nin), 0 if trust_model else K.WEIGHT_INIT_K2 if k2 else K.WEIGHT_INIT,
                      np.int32)
    weights[:, K.IN_BIAS] = 0
    if not (trust_model or k2):
        weights[:, K.IN_CONTEXTS + nh] = K.MATCH_WEIGHT_INIT
    if trust_model:
        weights[:, K.IN_CONTEXTS + nh + 1] = K.WEIGHT_ONE

    def counters(size: int) -> np.ndarray:
        return np.full(size, K.COUNTER_INIT, np.uint32)

    cfg = np.zeros(K.N_CFG, np.int64)
    cfg[K.CFG_HASH_MASK] = (1 << (p.hash_bits - K.BUCKET_BITS)) - 1
    cfg[K.CFG_MATCH_MASK] = (1 << p.match_bits) - 1
    cfg[K.CFG_MATCH_MIN], cfg[K.CFG_LIMIT] = p.match_min, p.limit
    cfg[K.CFG_LR], cfg[K.CFG_APM_RATE], cfg[K.CFG_KERNEL] = p.lr, p.apm_rate, p.kernel
    regs = np.zeros(K.N_REGS, np.int64)
    regs[K.REG_X2] = K.M32
    return K.make_state(
        data=np.zeros(n, np.uint8) if data is None else data, known=np.zeros(-(-n // 8), np.uint8), lane_tab=lane_tab,
        t0=counters(256), t1=counters(65536),
        ht=np.zeros(1 << p.hash_bits, np.uint32), sm=np.tile(SM_INIT, nh), nex=BH.NEXT,  # zeros: all SLOT_INIT
        rec_last=np.full(256, -1, np.int64), rec_dist=np.zeros(256, np.int64),
        match_tab=np.zeros(K.MATCH_WAYS << p.match_bits, np.int32),
        match_sm=counters(2 * K.MATCH_BUCKETS),
        weights=weights,
        w_final=np.full((256, K.N_MIXERS), K.WEIGHT_INIT_K2 if k2 else K.WEIGHT_ONE // K.N_MIXERS, np.int32),
        apm=APM_INIT.copy(),
        regs=regs, out=out, blob=blob, cfg=cfg,
        orders=np.array(sorted(KINDS[c] for c in p.contexts), np.int64),
        squash=SQUASH, stretch=STRETCH, rates=RATES, run_sm=counters(nh * 2 * K.RUN_BUCKETS))


class _Coder:
    """The shared state of encoder and decoder: all tables, the lanes, the coder registers."""

    def __init__(self, lane_start, lane_len, params: MixParams, out_size: int, blob: np.ndarray, short_end: bool,
                 trust_model: bool, data: np.ndarray | None = None):
        start = np.asarray(lane_start, dtype=np.int64)
        length = np.asarray(lane_len, dtype=np.int64)
        if start.ndim != 1 or start.shape != length.shape or (length < 1).any() \
                or (start != np.concatenate([[0], np.cumsum(length)[:-1]])).any():
            raise ValueError("lanes must be non-empty and tile [0, n) in order")
        self.n = int(length.sum())
        # Bytes the decoder may read past the coded data: none where the encoder ends with all 4 bytes
        # of x1 (it then reads exactly what was written), the 4 of its window where it ends short.
        self.overrun = 4 if short_end else 0
        self.lane_len = length
        self.step = 0
        self.state = _new_state(start, length, params, np.zeros(out_size, np.uint8), blob, trust_model, data)
        self.regs, self.out = self.state.regs, self.state.out

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
        K.code_step(mode, lanes, freqs, syms, self.state)
        self.step += 1
        self._check(mode)

    def run_steps(self, steps, bar: tqdm | None = None, stop: threading.Event | None = None) -> None:
        """Code every remaining step by calls of `steps(step, until) -> next step`, a kernel that codes
        whole steps on this coder's `state` and returns early where its output could overflow or its
        input is used up (`cm_kernel.code_adaptive`; with the transformer, `model_kernel`). Each call
        covers about BYTES_PER_CALL bytes, so Ctrl-C, the progress bar and `stop` (once set, no
        further call: the coding is abandoned) are served between calls."""
        longest = int(self.lane_len.max()) if self.n else 0
        while self.step < longest and not (stop and stop.is_set()):
            self._before_call()
            before = self.step
            self.step = steps(self.step, self.step + max(1, BYTES_PER_CALL // len(self.lane_len)))
            self._check(self.MODE)
            if bar is not None:
                bar.update(self._coded(self.step) - self._coded(before))

    def _before_call(self) -> None:
        """What must hold before a kernel call codes steps (the encoder: room for its output)."""

    def _coded(self, steps: int) -> int:
        """Bytes coded in the first `steps` steps, over all lanes."""
        return int(np.minimum(self.lane_len, steps).sum())

    def _check(self, mode: int) -> None:
        if mode == K.DECOMPRESS and self.regs[K.REG_IN] > len(self.state.blob) + self.overrun:
            raise FormatError("coded data ends before the original size (corrupt)")


class MixEncoder(_Coder):
    """Encode step by step; `finish()` returns the coded stream. `short_end`: end with the fewest
    bytes that pin the code value (at most one after the last bit; FORMAT.md §6.3) instead of the
    4 bytes of x1, for streams so short that 3 bytes matter (a record's block); `trust_model`: the
    mixers start from the transformer alone (`_new_state`); `in_place`: the input as a writable
    uint8 array, which the coder then uses as its own copy of the bytes (it stays unchanged: each
    byte is written with its own value), so a large input is held once, not twice."""

    MODE = K.COMPRESS  # the side this coder codes (its kernels' mode)

    def __init__(self, lane_start, lane_len, params: MixParams = DEFAULT_PARAMS, short_end: bool = False,
                 trust_model: bool = False, in_place: np.ndarray | None = None):
        n_lanes = len(np.atleast_1d(lane_len))
        room = max(OUT_ROOM, 2 * K.OUT_PER_BYTE * (n_lanes + 1))
        super().__init__(lane_start, lane_len, params, room, np.zeros(0, np.uint8), short_end, trust_model, in_place)
        self._chunks: list[bytes] = []

    def _make_room(self, k: int) -> None:
        if self.regs[K.REG_OUT] + K.OUT_PER_BYTE * k + K.OUT_MARGIN > len(self.out):
            self._chunks.append(self.out[:self.regs[K.REG_OUT]].tobytes())
            self.regs[K.REG_OUT] = 0

    def encode_step(self, lanes: np.ndarray, freqs: np.ndarray, symbols: np.ndarray) -> None:
        """Code the bytes `symbols` of the active `lanes` under the transformer's `freqs`."""
        lanes = self._active(lanes)
        syms = np.asarray(symbols, dtype=np.uint8).astype(np.int64)
        if syms.shape != lanes.shape:
            raise ValueError("need one symbol per active lane")
        self._make_room(len(lanes))
        self._step(K.COMPRESS, lanes, self._freqs(freqs, len(lanes)), syms)

    def _before_call(self) -> None:
        self._make_room(len(self.lane_len))

    def encode_rest(self, data: bytes, bar: tqdm | None = None, stop: threading.Event | None = None) -> None:
        """Code the remaining steps of `data` (all n bytes) with uniform transformer input (until `stop`
        is set: run_steps)."""
        src = np.frombuffer(data, dtype=np.uint8)
        if len(src) != self.n:
            raise ValueError(f"need all {self.n} bytes, got {len(src)}")
        self.run_steps(lambda step, until: K.code_adaptive(K.COMPRESS, src, step, until, self.state), bar, stop)

    def finish(self) -> bytes:
        """Flush the coder and return the whole stream: the 4 bytes of x1, or with `short_end` the
        fewest leading bytes of a value in [x1, x2] that the decoder's zeros past the end complete."""
        self._make_room(1)
        x1, x2, op = int(self.regs[K.REG_X1]), int(self.regs[K.REG_X2]), int(self.regs[K.REG_OUT])
        tail = _short_tail(x1, x2) if self.overrun else x1.to_bytes(4, "big")
        self.out[op:op + len(tail)] = np.frombuffer(tail, np.uint8)
        self._chunks.append(self.out[:op + len(tail)].tobytes())
        self.regs[K.REG_OUT] = 0
        return b"".join(self._chunks)


def _short_tail(x1: int, x2: int) -> bytes:
    """The fewest leading bytes of a 32-bit value in [x1, x2] whose other bytes are zero (the decoder
    reads zeros past the end): x1 rounded up to a multiple of 2^(32 - 8k), for the smallest k that
    stays at most x2 (k = 4 always does: x1 itself)."""
    for k in range(4):
        unit = 1 << (32 - 8 * k)
        v = -(-x1 // unit) * unit
        if v <= x2:
            return v.to_bytes(4, "big")[:k]
    return x1.to_bytes(4, "big")


class MixDecoder(_Coder):
    """Decode step by step with the same lanes, params and freqs the encoder saw."""

    MODE = K.DECOMPRESS  # the side this coder codes (its kernels' mode)

    def __init__(self, blob: bytes, lane_start, lane_len, params: MixParams = DEFAULT_PARAMS, short_end: bool = False,
                 trust_model: bool = False):
        buf = np.frombuffer(blob, dtype=np.uint8).copy()  # the kernel's own (bytes or a view of an archive)
        super().__init__(lane_start, lane_len, params, 0, buf, short_end, trust_model)
        head = bytes(blob[:4]).ljust(4, b"\0")
        self.regs[K.REG_X], self.regs[K.REG_IN] = int.from_bytes(head, "big"), 4

    def decode_step(self, lanes: np.ndarray, freqs: np.ndarray) -> np.ndarray:
        """The bytes (uint8) of the active `lanes` at this step."""
        lanes = self._active(lanes)
        syms = np.zeros(len(lanes), np.int64)
        self._step(K.DECOMPRESS, lanes, self._freqs(freqs, len(lanes)), syms)
        return syms.astype(np.uint8)

    def decode_rest(self, bar: tqdm | None = None) -> None:
        """Decode all remaining steps with uniform transformer input."""
        data = self.state.data
        self.run_steps(lambda step, until: K.code_adaptive(K.DECOMPRESS, data, step, until, self.state),
                       bar)

    def output(self) -> bytes:
        """All n decoded bytes."""
        return self.state.data.tobytes()


# The sample on which choose_params measures: 128 KiB was enough to tell DNA, a spreadsheet and a CSV
# table (the "dense" set 1.5-6.8 % smaller there, levels.py) from text (the default set 0.1-0.3 % smaller,
# the bible's whole text too) on the README benchmark files.
CHOICE_SAMPLE = 1 << 17


def choose_params(data: bytes, candidates, workers: int = 1) -> MixParams:
    """The candidate (MixParams) that codes the first CHOICE_SAMPLE bytes of `data` in the fewest
    bytes (the first of equals): a choice by measured description length, made by the encoder alone
    (the archive's CONFIG says what was chosen). A candidate with the `image` context is tried only
    if a candidate before it left a record length of at least K.IMAGE_MIN_ROW bytes at the end of
    the sample (a bitmap's rows; on text the detector holds 2-8 bytes there), so that other inputs
    do not pay for its trial. The trials before the first such candidate run on up to `workers`
    threads at once (the kernel releases the GIL; each trial has its own tables)."""
    candidates = list(candidates)
    if len(candidates) == 1:
        return candidates[0]
    sample = data[:CHOICE_SAMPLE]

    def trial(p: MixParams) -> tuple[int, int]:  # (coded bytes, record length at the sample's end)
        enc = _coded(sample, *lane_layout(len(sample), 1, 1), p.sized_for(len(sample)))  # tables for the sample
        return len(enc.finish()), int(enc.state.lane_tab[0, K.LANE_REC_LEN])

    first = next((i for i, p in enumerate(candidates) if "image" in p.contexts), len(candidates))
    results = list(runtime.in_order(trial, candidates[:first], workers, 1))
    sizes, rows = [n for n, _ in results], max((r for _, r in results), default=0)
    for p in candidates[first:]:
        if "image" in p.contexts and rows < K.IMAGE_MIN_ROW:
            sizes.append(float("inf"))
            continue
        n, r = trial(p)
        sizes.append(n)
        rows = max(rows, r)
    return candidates[sizes.index(min(sizes))]


def encode_adaptive(data: bytes, n_lanes: int, params: MixParams = DEFAULT_PARAMS, block: int = 1,
                    progress: bool = False) -> bytes:
    """Code `data` without a transformer (uniform freqs), in lane_layout(len, block, n_lanes);
    `progress`: a tqdm bar with an estimate on stderr."""
    return encode_adaptive_lanes(data, *lane_layout(len(data), block, n_lanes), params, progress)


def encode_adaptive_lanes(data: bytes, lane_start, lane_len, params: MixParams = DEFAULT_PARAMS,
                          progress: bool = False, short_end: bool = False) -> bytes:
    """`encode_adaptive` in the lanes given (they tile `data` in order); a writable `data` (a
    bytearray) is coded in place (MixEncoder's `in_place`)."""
    return _coded(data, lane_start, lane_len, params, progress, short_end).finish()


def _coded(data: bytes, lane_start, lane_len, params: MixParams, progress: bool = False,
           short_end: bool = False, stop: threading.Event | None = None) -> MixEncoder:
    """The encoder after coding all of `data` (unfinished: its state still readable), or as far as it
    came when `stop` was set."""
    src = np.frombuffer(data, dtype=np.uint8)
    enc = MixEncoder(lane_start, lane_len, params, short_end,
                     in_place=src if src.flags.writeable and len(src) == int(np.sum(lane_len)) else None)
    with _bar(len(data), "coding", progress) as bar:
        enc.encode_rest(data, bar, stop)
    return enc


def encode_chosen(data: bytes, candidates, block: int = 1, workers: int = 1,
                  progress: bool = False) -> tuple[MixParams, bytes]:
    """(choose_params(data, candidates), `data` coded with it by encode_adaptive in one lane). With two
    or more workers the first candidate's coding starts at once on a thread of its own, beside the
    trials, and is abandoned if another candidate measures smaller: the same choice and the same
    bytes as choosing first, without waiting for the trials where the first candidate wins (the
    default set, on text: the trials on 128 KiB took a sixth of -6's time on 1 MiB of dickens)."""
    candidates = list(candidates)
    if workers < 2 or len(candidates) < 2:
        chosen = choose_params(data, candidates, workers)
        return chosen, encode_adaptive(data, 1, chosen, block, progress)
    stop = threading.Event()
    layout = lane_layout(len(data), block, 1)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(_coded, data, *layout, candidates[0], progress, False, stop)
        try:
            chosen = choose_params(data, candidates, workers - 1)
        except BaseException:  # Ctrl-C too: the first coding stops after its current kernel call
            stop.set()
            raise
        if chosen == candidates[0]:
            return chosen, first.result().finish()
        stop.set()
    del first  # the abandoned coder's tables, before the chosen one's are made
    return chosen, encode_adaptive(data, 1, chosen, block, progress)


def decode_adaptive(blob: bytes, n: int, n_lanes: int, params: MixParams = DEFAULT_PARAMS,
                    block: int = 1, progress: bool = False) -> memoryview:
    """Inverse of `encode_adaptive`: the bytes as a view of the decoder's own array (a large
    output is not copied)."""
    return memoryview(_decoded(blob, *lane_layout(n, block, n_lanes), params, progress, False).state.data)


def decode_adaptive_lanes(blob: bytes, lane_start, lane_len, params: MixParams = DEFAULT_PARAMS,
                          progress: bool = False, short_end: bool = False) -> bytes:
    """Inverse of `encode_adaptive_lanes`."""
    return _decoded(blob, lane_start, lane_len, params, progress, short_end).output()


def _decoded(blob: bytes, lane_start, lane_len, params: MixParams, progress: bool, short_end: bool) -> MixDecoder:
    dec = MixDecoder(blob, lane_start, lane_len, params, short_end)
    with _bar(int(np.sum(lane_len)), "decoding", progress) as bar:
        dec.decode_rest(bar)
    return dec


def _bar(total: int, desc: str, progress: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, disable=not progress, leave=False)
