"""The context-mixing kernel's Python side: the State's arrays, the tables, and the calls into C.

The kernel itself, the models, mixers, APMs and binary arithmetic coder that code every bit, is
cm_kernel.c, compiled with the package and called through ctypes (from here and from numba code,
model_kernel.py); its opening comment describes it, FORMAT.md section 4 specifies it. One function
both encodes and decodes (`mode` COMPRESS / DECOMPRESS), so the two sides run the same code. This
module holds what Python needs of it: the constants that lay out the arrays (cm_kernel.c lists the
ones it shares, and a test checks that both agree), the initial values, the squash / stretch /
rate tables (from 33 integer knots, so any machine computes identical bits), and `make_state`,
which checks every array's type and size before the C code may touch it.
"""
from __future__ import annotations

import ctypes
import importlib.util
from typing import NamedTuple

import numpy as np

from .cm_params import MAX_CONTEXTS

M32 = 0xFFFFFFFF

# code modes
COMPRESS = 0    # the symbol is given and its bits are written to `out`
DECOMPRESS = 1  # the bits are read from `blob` and the symbol is returned

# Columns of State.lane_tab (one row per lane)
LANE_START = 0       # the lane's first byte in the file
LANE_LEN = 1         # the lane's length in bytes
LANE_DONE = 2        # bytes of the lane coded so far
LANE_WORD = 3        # hash of the word being read (0: not in a word)
LANE_PREV_WORD = 4   # hash of the last complete word
LANE_MATCH_PTR = 5   # position of the byte the match predicts next
LANE_MATCH_LEN = 6   # length of the current match (0: none)
LANE_LINE = 7        # position where the current line starts
LANE_PREV_LINE = 8   # position where the previous line starts (-1: none yet)
LANE_REC_LEN = 9     # the record length detected (0: none)
LANE_REC_CAND = 10   # a candidate record length: a distance between equal bytes seen twice in a row
LANE_REC_HITS = 11   # times the candidate was seen
LANE_IMG_ROW = 12    # the image context's row length (0: none yet; see image_rows in cm_kernel.c)
LANE_PREV_WORD2 = 13  # hash of the complete word before the last one
N_LANE_COLS = 14

# State.regs: the arithmetic coder's registers
REG_X1 = 0   # low end of the interval
REG_X2 = 1   # high end of the interval
REG_X = 2    # decoder: the 32 code bits under the interval
REG_OUT = 3  # encoder: next write position in `out`
REG_IN = 4   # decoder: next read position in `blob`
REG_CODED = 5  # bytes coded so far, all lanes (sets the mixers' learning rate)
N_REGS = 6

# State.cfg: the MixParams as the kernel uses them
CFG_HASH_MASK, CFG_MATCH_MASK, CFG_MATCH_MIN, CFG_LIMIT, CFG_LR, CFG_APM_RATE, CFG_KERNEL = range(7)
N_CFG = 7

# Probabilities and logits
LOGIT_MAX = 2047              # mixer outputs are clamped to [-LOGIT_MAX, LOGIT_MAX] (logit * 256)
SQ_OFFSET = 2048              # squash table index of logit 0
# round(4096 / (1 + exp(-x / 256))) at x = -2048, -1920, ..., 2048: the knots squash interpolates
SQUASH_KNOTS = (1, 2, 4, 6, 10, 17, 27, 45, 74, 120, 194, 311, 488, 747, 1102, 1546, 2048,
                2550, 2994, 3349, 3608, 3785, 3902, 3976, 4022, 4051, 4069, 4079, 4086, 4090, 4092,
                4094, 4095)

# Tables' sizes and initial values
COUNT_BITS = 10           # a counter (uint32): a 22-bit probability of a 1 above a 10-bit count
COUNTER_INIT = 1 << 31    # probability 1/2, count 0
BUCKET_BITS = 4           # a hashed context's bucket: a check and a 15-node nibble tree (16 uint32 slots)
SLOT_INIT = 1 << 31       # a slot's probability 1/2, count 0, bit-history state 0
MATCH_WAYS = 2            # positions per match table bucket
MATCH_BUCKETS = 32        # match length buckets (2 strength counters each: the expected bit)
MATCH_STATES = 4          # match states (none, short, long, longer): a selector of the fourth mixer
RUN_BUCKETS = 16          # run strength counters per context and expected bit (kernel 4)

# Mixer inputs, in this order: the bias, order 0, order 1, the nh contexts' stretch(p) (from
# IN_CONTEXTS), the match, the transformer (IN_CONTEXTS + nh, + nh + 1), the nh contexts'
# count-scaled stretch(p) (from N_FIXED + nh), the nh contexts' state-map stretch(p) (from
# N_FIXED + 2 * nh), kernel 4 on: the nh contexts' run inputs (from N_FIXED + 3 * nh)
IN_BIAS, IN_ORDER0, IN_ORDER1, IN_CONTEXTS = 0, 1, 2, 3
N_FIXED = 5               # mixer inputs besides the hashed contexts

# Mixers: weights are 16.16 fixed point int32
N_MIXERS = 5              # by partial byte, by c1, by c2, by match state/context hits/bit position, and
                          # (kernel 3 on) by the classes of c1 and c2 and the bit position; kernel 2 has the first 4
N_CLASSES = 8             # byte classes of the fifth mixer: 8 x 8 pairs x 8 bit positions
# first row of each mixer's weight sets in State.weights: 256 each for the first three, N_CLASSES^2 * 8 for
# the fifth, then the fourth's MATCH_STATES * (nh + 1) * 8, the only count that depends on nh (where a set
# is stored decides nothing: every set of a mixer starts alike)
MIXER_BASE = (0, 256, 512, 768 + N_CLASSES * N_CLASSES * 8, 768)


def mixer_rows(nh: int) -> int:
    """Rows of State.weights for nh hashed contexts."""
    return MIXER_BASE[3] + MATCH_STATES * (nh + 1) * 8


def per_context(kernel: int) -> int:
    """Mixer inputs per hashed context: stretch(p), a count-scaled one, its state's and (kernel 4 on) its run's."""
    return 4 if kernel >= 4 else 3


WEIGHT_INIT = 1 << 12     # initial weight (1/16) of every input but the bias (0); the final mixer's weights
                          # start at WEIGHT_ONE / 5 (they sum to 1). Kernel 2: WEIGHT_INIT_K2 for both
WEIGHT_INIT_K2 = 1 << 14
MATCH_WEIGHT_INIT = 1 << 15  # the match input's initial weight (1/2; kernel 3 on): a repeated block is coded
                             # at once (50 copies of 1 KiB of random bytes: 1,123 bytes; at 1/16, 1,215; xz 1,184)
WEIGHT_ONE = 1 << 16      # weight 1: a dataset block's mixers start with the transformer's input alone

# APMs: per context 33 knots (16-bit probabilities) over the stretched input probability
N_APMS = 3                # by c0; by c1 and c0; by a hash of c2 c1 (kernel 4: c3 c2 c1) and c0
APM_ROWS = 256 + 2 * 65536  # their contexts, in this order
APM_KNOTS = 33
APM_STEP_BITS = 7         # knots every 128 of stretch(p) + SQ_OFFSET
APM_SCALE_BITS = 4        # an APM entry is a 12-bit probability times 16

# The encoder's output
OUT_PER_BYTE = 32         # output bytes one coded byte can need, at most (bound)
OUT_MARGIN = 8            # ... plus this, the free room the encoder keeps before a step
IMAGE_MIN_ROW = 16        # record lengths below this (128 pixels) are not taken for an image's rows


class State(NamedTuple):
    """All arrays of one coder (built by mixer._new_state, through make_state); nh hashed contexts,
    nin mixer inputs. The C kernel reads them through `words`."""
    # the file
    data: np.ndarray        # uint8 (n,): the file's bytes as far as coded
    known: np.ndarray       # uint8 (ceil(n / 8),): bit i & 7 of byte i >> 3 set where data[i] is coded
                            # (known to both sides); bits, not bytes: a 1 GB input's flags take 128 MB
    lane_tab: np.ndarray    # int64 (L, N_LANE_COLS): per lane, the LANE_* columns
    # counters (uint32)
    t0: np.ndarray          # (256,) order 0, by the partial byte c0
    t1: np.ndarray          # (65536,) order 1, by (c1 << 8) | c0
    ht: np.ndarray          # uint32 (2^hash_bits,): hashed context buckets of 2^BUCKET_BITS slots: a
                            # check, then the nibble tree's 15 slots; each stored XOR SLOT_INIT (zeros: all new)
    sm: np.ndarray          # uint32 (nh * 256,): per context kind, a counter per bit-history state
    match_tab: np.ndarray   # int32 (MATCH_WAYS * 2^match_bits,) positions by hash of the last match_min bytes
    match_sm: np.ndarray    # (2 * MATCH_BUCKETS,) match strength by (length bucket, expected bit)
    # mixers (int32 weights, 16.16 fixed point)
    weights: np.ndarray     # (mixer_rows(nh), nin): the weight sets of the mixers, mixer k's
                            # from row MIXER_BASE[k] on
    w_final: np.ndarray     # (256, N_MIXERS): the final mixer over the mixers' outputs, by c0
    # APMs (uint16, APM_KNOTS per context)
    apm: np.ndarray         # (APM_ROWS * APM_KNOTS,): the three APMs
    # arithmetic coder
    regs: np.ndarray        # int64 (N_REGS,): the REG_* registers
    out: np.ndarray         # uint8: encoder output buffer (emptied by the caller)
    blob: np.ndarray        # uint8: decoder input
    # configuration
    cfg: np.ndarray         # int64 (N_CFG,): the CFG_* parameters
    orders: np.ndarray      # int64 (nh,): the context kinds (orders, then WORD ... IMAGE), sorted
    # constant tables (shared)
    squash: np.ndarray      # int64 (4096,): squash_table()
    stretch: np.ndarray     # int64 (4096,): stretch_table()
    rates: np.ndarray       # int64 (1024,): rate_table()
    nex: np.ndarray         # uint8 (2 * bit_history.N_STATES,): bit_history.NEXT
    rec_last: np.ndarray    # int64 (256,): where each byte value was last coded (-1: never)
    rec_dist: np.ndarray    # int64 (256,): the distance between its last two occurrences
    run_sm: np.ndarray      # uint32 (nh * 2 * RUN_BUCKETS,): run strength counters (kernel 4)
    # the C kernel's view
    words: np.ndarray       # int64 (N_STATE_WORDS,): the arrays' addresses and sizes (cm_kernel.c's State)


def squash_table() -> np.ndarray:
    """squash(d) for d in [-2048, 2047] (index d + 2048): 12-bit probability of the logit d/256."""
    k = SQUASH_KNOTS
    out = np.empty(4096, np.int64)
    for d in range(-2048, 2048):
        w, i = d & 127, (d >> 7) + 16
        out[d + 2048] = (k[i] * (128 - w) + k[i + 1] * w + 64) >> 7
    return np.clip(out, 1, 4095)


def stretch_table(squash: np.ndarray) -> np.ndarray:
    """stretch(p) for p in [0, 4095]: the smallest d with squash(d) >= p (the inverse, by search)."""
    return np.searchsorted(squash, np.arange(4096), side="left").astype(np.int64) - 2048


def rate_table() -> np.ndarray:
    """Counter step 65536 / (n + 1.5) after n observations."""
    n = np.arange(1024, dtype=np.int64)
    return 131072 // (2 * n + 3)


# --- the C kernel ------------------------------------------------------------------------------

def bind(path: str) -> ctypes.CDLL:
    """The kernel library at `path` (a build of cm_kernel.c), its entry points typed."""
    lib = ctypes.CDLL(path)
    i64, u64 = ctypes.c_int64, ctypes.c_uint64
    lib.cm_code_step.argtypes = [i64, u64, i64, u64, u64, u64]
    lib.cm_code_step.restype = None
    lib.cm_code_adaptive.argtypes = [i64, u64, i64, i64, u64]
    lib.cm_code_adaptive.restype = i64
    return lib


def _built() -> str:
    spec = importlib.util.find_spec("mdlzip.codec._cm_kernel")
    if spec is None or not spec.origin:
        raise ImportError("mdlzip's C kernel (mdlzip/codec/cm_kernel.c) is not built: "
                          "install the package with a C compiler present (pip install .)")
    return spec.origin


_LIB = bind(_built())
CODE_STEP_ADDRESS = ctypes.cast(_LIB.cm_code_step, ctypes.c_void_p).value  # for numba (model_kernel.py)


def c_constants() -> dict[str, int]:
    """The constants cm_kernel.c shares with this module, by name, as the C code has them."""
    names = ctypes.string_at(ctypes.addressof(ctypes.c_char.in_dll(_LIB, "cm_constant_names"))).decode().split()
    values = (ctypes.c_int64 * len(names)).in_dll(_LIB, "cm_constant_values")
    return dict(zip(names, values))


# cm_kernel.c's State, word by word: an array's address, or a size ("n": data's length and so on)
C_STATE = ("data", "n", "known", "lane_tab", "n_lanes", "t0", "t1", "ht", "sm", "match_tab", "match_sm",
           "weights", "nin", "w_final", "apm", "regs", "out", "out_size", "blob", "blob_size", "cfg", "orders", "nh",
           "squash", "stretch", "rates", "nex", "rec_last", "rec_dist", "run_sm")


def make_state(**arrays: np.ndarray) -> State:
    """The State of these arrays (State's fields but `words`), each checked for the type and size the
    C kernel assumes (a mistake here would be a wrong memory access there, not an exception)."""
    a = arrays
    cfg, orders, lane_tab = a["cfg"], a["orders"], a["lane_tab"]
    n, nh, kernel = len(a["data"]), len(orders), int(cfg[CFG_KERNEL])
    nin = per_context(kernel) * nh + N_FIXED
    shapes = {
        "data": (np.uint8, (n,)), "known": (np.uint8, (-(-n // 8),)), "lane_tab": (np.int64, (len(lane_tab), N_LANE_COLS)),
        "t0": (np.uint32, (256,)), "t1": (np.uint32, (65536,)),
        "ht": (np.uint32, ((int(cfg[CFG_HASH_MASK]) + 1) << BUCKET_BITS,)), "sm": (np.uint32, (nh * 256,)),
        "match_tab": (np.int32, (MATCH_WAYS * (int(cfg[CFG_MATCH_MASK]) + 1),)),
        "match_sm": (np.uint32, (2 * MATCH_BUCKETS,)), "weights": (np.int32, (mixer_rows(nh), nin)),
        "w_final": (np.int32, (256, N_MIXERS)), "apm": (np.uint16, (APM_ROWS * APM_KNOTS,)),
        "regs": (np.int64, (N_REGS,)), "out": (np.uint8, a["out"].shape), "blob": (np.uint8, a["blob"].shape),
        "cfg": (np.int64, (N_CFG,)), "orders": (np.int64, (nh,)), "squash": (np.int64, (4096,)),
        "stretch": (np.int64, (4096,)), "rates": (np.int64, (1024,)), "nex": (np.uint8, a["nex"].shape),
        "rec_last": (np.int64, (256,)), "rec_dist": (np.int64, (256,)), "run_sm": (np.uint32, (nh * 2 * RUN_BUCKETS,)),
    }
    for name, (dtype, shape) in shapes.items():
        v = a[name]
        if v.dtype != dtype or v.shape != shape or not v.flags.c_contiguous or not v.flags.aligned:
            raise ValueError(f"State.{name}: need a C-contiguous {np.dtype(dtype)} array of shape {shape}")
    start, length = lane_tab[:, LANE_START], lane_tab[:, LANE_LEN]
    if nh > MAX_CONTEXTS or kernel not in (2, 3, 4) or not 2 <= cfg[CFG_MATCH_MIN] <= 8 \
            or not 1 <= cfg[CFG_LIMIT] <= 255 or not 1 <= cfg[CFG_APM_RATE] <= 15 \
            or (start < 0).any() or (length < 0).any() or (start + length > n).any() \
            or a["nex"].ndim != 1 or 2 * int(a["nex"].max()) + 1 >= len(a["nex"]) or len(a["nex"]) > 512:
        raise ValueError("State: configuration or lanes out of range")
    sizes = {"n": n, "n_lanes": len(lane_tab), "nin": nin, "out_size": len(a["out"]), "blob_size": len(a["blob"]),
             "nh": nh}
    words = np.array([sizes[f] if f in sizes else a[f].ctypes.data for f in C_STATE], np.int64)
    return State(words=words, **arrays)


def code_step(mode: int, lanes: np.ndarray, freqs: np.ndarray, syms: np.ndarray, st: State) -> None:
    """Code one step: the next byte of each lane in `lanes` (int64, increasing), under its row of freqs
    (float64, (len(lanes), 256)); syms (int64) holds the bytes (COMPRESS) or receives them (DECOMPRESS).
    The caller keeps OUT_PER_BYTE bytes of `out` free per lane (COMPRESS)."""
    k = len(lanes)
    if mode not in (COMPRESS, DECOMPRESS) or lanes.dtype != np.int64 or syms.dtype != np.int64 \
            or freqs.dtype != np.float64 or freqs.shape != (k, 256) or syms.shape != (k,) \
            or not (lanes.flags.c_contiguous and syms.flags.c_contiguous and freqs.flags.c_contiguous) \
            or (k and (lanes.min() < 0 or lanes.max() >= len(st.lane_tab))):
        raise ValueError("code_step: mode, lanes, freqs or syms of the wrong type or shape")
    _LIB.cm_code_step(mode, lanes.ctypes.data, k, freqs.ctypes.data, syms.ctypes.data, st.words.ctypes.data)


def code_adaptive(mode: int, src: np.ndarray, step: int, until: int, st: State) -> int:
    """Code whole steps from `step` to at most `until` with uniform transformer input; stop early where
    the output could overflow in the next step (COMPRESS) or the coded data is used up (DECOMPRESS: the
    decoder read past its end, which a valid stream never does). Returns the next step. Encodes src
    (uint8, the whole input: COMPRESS; ignored otherwise)."""
    if mode not in (COMPRESS, DECOMPRESS) or src.dtype != np.uint8 or not src.flags.c_contiguous \
            or (mode == COMPRESS and len(src) != len(st.data)):
        raise ValueError("code_adaptive: mode or src of the wrong type or size")
    return _LIB.cm_code_adaptive(mode, src.ctypes.data, step, until, st.words.ctypes.data)
