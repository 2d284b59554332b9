"""Numba kernels of the context-mixing coder: models, mixers, APMs and a binary arithmetic coder.

One function, `code_byte`, both encodes and decodes (`mode` COMPRESS / DECOMPRESS), so the two
sides run the same model code. Every quantity that decides a coded bit is an integer in a
fixed-size table; the squash and stretch tables come from 33 integer knots, so any machine computes
identical bits. FORMAT.md section 4 specifies the same computation in prose.

A byte is coded as 8 binary decisions, most significant bit first. Per bit, in this order:
    inputs    `_select_buckets` (at bits 0 and 4), `_image_bucket` (every bit, with the image
              context), `_counter_inputs`, `_run_inputs` (kernel 4 on), `_match_input`,
              `_transformer_p`: the stretched predictions of a bias, order-0/1 counters, the hashed
              contexts (direct, through their bit histories, and the byte each last saw), the match
              model and the transformer
    predict   `_mixer_rows`, `_mix`: five mixers (kernel 2: four) and a final mixer over them; `_refine`: three
              APMs and a fixed blend
    code      `_code_bit`: the binary arithmetic coder
    learn     `_learn_counters`, `_learn_runs`, `_learn_mixers`, `_train_apm`: everything that took part
              moves toward the bit
and once per byte `_byte_contexts` / `_context_hashes` / `_image_rows` / `_find_match` before and
`_end_runs` / `_end_byte` after.
Speed: every helper is `inline="always"` (inlined in numba IR: as calls, the per-bit ones cost
about a third of the speed and the per-byte ones another ~20 %, measured on 1 MiB of dickens) and
takes arrays, not the State: `code_byte` takes the arrays out of the State once per byte (each
take costs a reference count).

The arithmetic coder is a carry-less 32-bit binary coder (an interval [x1, x2] narrowed by a 12-bit
probability per bit, leading bytes shifted out once x1 and x2 agree), written here because the
project's range coder (constriction) has no per-bit API callable from numba code.

A counter is a uint32: a 22-bit probability of a 1 above a 10-bit count that sets its rate. A
hashed context's slot is a uint32 too and holds two models of the bits seen there: a direct one (a
16-bit probability and an 8-bit count, as a counter) and an indirect one (an 8-bit bit-history
state, bit_history.py, whose probability a per-kind state map learns). Both feed the mixers: the
direct counts are the sharper on stationary text, the histories on data whose statistics shift
(measured on the README benchmark: the two together beat either alone, see `_counter_inputs`).
From kernel 4 on, a context's first-nibble bucket also keeps, beside its check, the byte last seen
in that context and how many times in a row (a run): a whole-byte prediction per context, as paq8's
run model has, that the bit-level nodes cannot make.

Kernels: each archive names the kernel that coded it (its coder, mixN/...), and the kernel's
switches (`kernel3`, `kernel4` in `code_byte`) select what a later kernel changed; 4 is written.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .cm_params import COLUMN, IMAGE, PROB_ONE, RECORD, WORD, WORD_PAIR, WORD_SKIP, WORD_TRIPLE

M32 = 0xFFFFFFFF

# code_byte modes
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
LANE_IMG_ROW = 12    # the image context's row length (0: none yet; see _image_rows)
LANE_PREV_WORD2 = 13  # hash of the complete word before the last one
N_LANE_COLS = 14

# State.regs: the arithmetic coder's registers
REG_X1 = 0   # low end of the interval
REG_X2 = 1   # high end of the interval
REG_X = 2    # decoder: the 32 code bits under the interval
REG_OUT = 3  # encoder: next write position in `out`
REG_IN = 4   # decoder: next read position in `blob`
REG_CODED = 5  # bytes coded so far, all lanes (sets the mixers' learning rate, LR_START)
N_REGS = 6

# State.cfg: the MixParams as the kernel uses them
CFG_HASH_MASK, CFG_MATCH_MASK, CFG_MATCH_MIN, CFG_LIMIT, CFG_LR, CFG_APM_RATE, CFG_KERNEL = range(7)
N_CFG = 7

# Probabilities and logits
PROB_BITS = 12                # probabilities are 12-bit: PROB_ONE == 1 << PROB_BITS
P_MAX = PROB_ONE - 1          # every coded probability lies in [1, P_MAX]
LOGIT_MAX = 2047              # mixer outputs are clamped to [-LOGIT_MAX, LOGIT_MAX] (logit * 256)
SQ_OFFSET = 2048              # squash table index of logit 0
# round(4096 / (1 + exp(-x / 256))) at x = -2048, -1920, ..., 2048: the knots squash interpolates
SQUASH_KNOTS = (1, 2, 4, 6, 10, 17, 27, 45, 74, 120, 194, 311, 488, 747, 1102, 1546, 2048,
                2550, 2994, 3349, 3608, 3785, 3902, 3976, 4022, 4051, 4069, 4079, 4086, 4090, 4092,
                4094, 4095)

# Counters
COUNT_BITS = 10                   # low bits: the number of observations n, capped at `limit`
COUNT_MASK = (1 << COUNT_BITS) - 1
P22_MAX = (1 << 22) - 1           # high 22 bits: the probability of a 1
COUNTER_TO_P = 20                 # counter >> COUNTER_TO_P: its probability in 12 bits
RATE_BITS = 16                    # rate_table steps are out of 2^RATE_BITS
COUNTER_INIT = 1 << 31            # probability 1/2, count 0
MATCH_STRENGTH_LIMIT = COUNT_MASK  # match strength counters are never capped below full precision
SM_LIMIT = COUNT_MASK     # state maps average over all they see (a state is already a summary)

# Hashing
MIX32_MUL = 0x45D9F3B   # multiplier of the 32-bit finalizer _mix32
PHI32 = 0x9E3779B1      # golden-ratio constant: salt of context kind k is (k + 1) * PHI32; spreads c0
ROLL_MUL = 0x2F0B4A73   # multiplier of the rolling hashes of the order contexts and of words
CHECK_SALT = 0x5BD1E995  # salt of a bucket's check from its hash
MATCH_SALT = 0x7F4A7C15  # salt of the match table hash
BUCKET_BITS = 4          # a bucket has 1 << BUCKET_BITS slots: a check and a 15-node nibble tree
BUCKET_SLOTS = 1 << BUCKET_BITS
BUCKET_WAYS = 2          # a context's bucket is one of 2 neighbours (home ^ 0..1)
CHECK_MASK = 0xFFFF      # a check is 16 bits (stored in slot 0; SLOT_INIT there is > any check); kernels 2-3
                         # compare all of slot 0 with it, kernel 4 its low 16 bits with a check of 1..65535
                         # (0 reads as 1: SLOT_INIT's low bits are 0) and keeps the run above them
# A hashed context's slot (uint32): a direct 16-bit probability, its 8-bit count, a bit-history state
SLOT_P_SHIFT, SLOT_COUNT_SHIFT = 16, 8
SLOT_P_MAX = (1 << 16) - 1
SLOT_TO_P = SLOT_P_SHIFT + 4  # slot >> SLOT_TO_P: its probability in 12 bits
SLOT_COUNT_MASK = SLOT_STATE_MASK = 255
SLOT_INIT = 1 << 31      # probability 1/2, count 0, state 0

# Run model (kernel 4 on): slot 0 of a context's first-nibble bucket (the one chosen at bit 0) holds the
# check in bits 0-15, the byte last coded in that context in bits 16-23 and how many times in a row it
# came in bits 24-31 (0: none yet); a run strength counter per context, capped run count and expected bit.
# Measured on the first MiB of 8 text files (scripts/ab_cm.py, kernel 3 otherwise): 0.22 % smaller (enwik8
# 0.95 %) for about a tenth of the speed; one input for the highest-order run instead of one a context: 0.06 %
RUN_BYTE_SHIFT, RUN_COUNT_SHIFT = 16, 24
RUN_COUNT_MAX = 255
RUN_BUCKETS = 16          # run counts 1..15 have their own strength counters, longer runs share the last
RUN_STRENGTH_LIMIT = COUNT_MASK  # run strength counters are never capped below full precision

# Match model
MATCH_WAYS = 2            # positions per match table bucket, newest first
MAX_MATCH_CHECK = 32      # a candidate's match length is verified over at most this many bytes
MATCH_EXACT = 16          # lengths below this have their own strength bucket ...
MATCH_STEP_BITS = 3       # ... longer ones share buckets of 8 lengths ...
MATCH_BUCKETS = 32        # ... up to the last bucket; strength counters: 2 per bucket (expected bit)
MATCH_LONG = 32           # match state (a mixer selector): 0 none, 1 below MATCH_EXACT, 2 below this, 3
MATCH_STATES = 4
MATCH_LEN_MAX = 65535     # a match's length stops growing here

# Mixer inputs, in this order: the bias, order 0, order 1, the nh contexts' stretch(p) (from
# IN_CONTEXTS), the match, the transformer (IN_CONTEXTS + nh, + nh + 1), the nh contexts'
# count-scaled stretch(p) (from N_FIXED + nh), the nh contexts' state-map stretch(p) (from
# N_FIXED + 2 * nh), kernel 4 on: the nh contexts' run inputs (from N_FIXED + 3 * nh)
IN_BIAS, IN_ORDER0, IN_ORDER1, IN_CONTEXTS = 0, 1, 2, 3
N_FIXED = 5               # mixer inputs besides the hashed contexts
BIAS = 256                # the bias input
CONF_CAP = 31             # count-scaled input: stretch(p) * (min(n, CONF_CAP) + 1) >> CONF_SHIFT,
CONF_SHIFT = 5            # full strength once the slot has seen 31 bits
FREQ_MAX = 2.0 ** 33      # transformer frequencies are clamped to [0, FREQ_MAX] (NaN counts 0)

# Mixers: weights are 16.16 fixed point int32
N_MIXERS = 5              # by partial byte, by c1, by c2, by match state/context hits/bit position, and
                          # (kernel 3 on) by the classes of c1 and c2 and the bit position; kernel 2 has the first 4
N_CLASSES = 8             # byte classes of the fifth mixer (_byte_class): 8 x 8 pairs x 8 bit positions
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


DOT_SHIFT = 16            # mixer output: (sum w * x) >> DOT_SHIFT, clamped to +-LOGIT_MAX
TRAIN_SHIFT = 14          # weight step: (x * err * lr) >> TRAIN_SHIFT, err = (bit << 12) - p; kernel 4 rounds it
TRAIN_ROUND = 1 << (TRAIN_SHIFT - 1)  # (adds this first: a truncated step drifts every weight down)
SKIP_ERR = 32             # kernel 4 on: a first-layer mixer whose |err| is below this learns nothing from the bit
                          # (measured on the first MiB of 8 text files, with lr 6: 0.05 % smaller than
                          # learning from every bit; 8: 0.03 %, 128: 0.02 %)
WEIGHT_MAX = (1 << 24) - 1  # weights are clamped to +-WEIGHT_MAX
WEIGHT_INIT = 1 << 12     # initial weight (1/16) of every input but the bias (0); the final mixer's weights
                          # start at WEIGHT_ONE / 5 (they sum to 1). Kernel 2: WEIGHT_INIT_K2 for both
WEIGHT_INIT_K2 = 1 << 14
MATCH_WEIGHT_INIT = 1 << 15  # the match input's initial weight (1/2; kernel 3 on): a repeated block is coded
                             # at once (50 copies of 1 KiB of random bytes: 1,123 bytes; at 1/16, 1,215; xz 1,184)
WEIGHT_ONE = 1 << 16      # weight 1: a dataset block's mixers start with the transformer's input alone
LR_START = 12             # the mixers learn at this rate at first, one less every 2^LR_DECAY_BITS bytes coded,
LR_DECAY_BITS = 13        # down to `lr`: fast to find what matters, steady once it is found
FINAL_LR = 1              # learning rate of the final mixer over the mixers' outputs (kernel 2: FINAL_LR_K2)
FINAL_LR_K2 = 2

# APMs: per context 33 knots (16-bit probabilities) over the stretched input probability
N_APMS = 3                # by c0; by c1 and c0; by a hash of c2 c1 (kernel 4: c3 c2 c1) and c0
APM_BASE = (0, 256, 256 + 65536)  # first context row of each APM in State.apm
APM_ROWS = 256 + 2 * 65536
APM_KNOTS = 33
APM_STEP_BITS = 7         # knots every 128 of stretch(p) + SQ_OFFSET
APM_SCALE_BITS = 4        # an APM entry is a 12-bit probability times 16
APM_TOP = 65535           # APM training target of a 1 (0 for a 0); kernel 3 on trains both knots around
                          # stretch(p), kernel 2 the nearer one
APM2_HASH_BITS = 8        # kernels 2-3: the order-2 APM's context is 8 hashed bits of the last 2 bytes, then c0;
APM2_ROW_MASK = 0xFFFF    # kernel 4: 16 hashed bits of the last 3 bytes and c0 together (0.05 % smaller)
# Final probability: (BLEND_MIX * mixer + BLEND_APM0 * apm0 + BLEND_APM1 * apm1 + BLEND_APM2 * apm2)
# / 2^BLEND_SHIFT, rounded. Kernel 4 leans on the order-3 APM and gives the order-0 one no weight (it
# measured nothing beside it: 1, 1, 3, 3 and 0, 0, 3, 5 within 0.01 %; 2, 1, 3, 2 0.10 % larger)
BLEND = (1, 0, 3, 4)
BLEND_K3 = (2, 1, 3, 2)   # kernels 2 and 3
BLEND_SHIFT = 3

# Arithmetic coder and lanes
TOP_MASK = 0xFF000000     # the leading byte of x1 and x2; shifted out once equal
OUT_PER_BYTE = 32         # output bytes one coded byte can need, at most (bound)
OUT_MARGIN = 8            # ... plus this, the free room the encoder keeps before a step
NEWLINE = 10              # ends a line (the column context)
COLUMN_CAP = 255          # columns from here on share a context
NO_ABOVE = 256            # "byte above" when the previous line is too short or absent
# The image context (a bitmap: one bit a pixel, rows of r bytes, r the record length): for the bit at
# pixel x, IMAGE_ABOVE pixels of the row above centred on x, IMAGE_ABOVE2 of the row above that, and
# the IMAGE_LEFT pixels before x (measured on ptt5, a fax page: this context alone 24,645 bytes, cm's
# default set 33,521; a plain counter on these pixels 25,510, on 7, 3 and 9 pixels 25,973)
IMAGE_ABOVE, IMAGE_ABOVE2, IMAGE_LEFT = 9, 5, 7
IMAGE_MIN_ROW = 16        # record lengths below this (128 pixels) are not taken for an image's rows
REC_MIN = 2               # shortest record length detected
REC_CONFIRM = 3           # a candidate record length is taken once seen this many times


class State(NamedTuple):
    """All arrays of one coder (built by mixer._new_state); nh hashed contexts, nin mixer inputs."""
    # the file
    data: np.ndarray        # uint8 (n,): the file's bytes as far as coded
    known: np.ndarray       # uint8 (ceil(n / 8),): bit i & 7 of byte i >> 3 set where data[i] is coded
                            # (known to both sides); bits, not bytes: a 1 GB input's flags take 128 MB
    lane_tab: np.ndarray    # int64 (L, N_LANE_COLS): per lane, the LANE_* columns
    # counters (uint32, see _update)
    t0: np.ndarray          # (256,) order 0, by the partial byte c0
    t1: np.ndarray          # (65536,) order 1, by (c1 << 8) | c0
    ht: np.ndarray          # uint32 (2^hash_bits,): hashed context buckets of BUCKET_SLOTS slots: a
                            # check, then the nibble tree's 15 slots (see _update_slot)
    sm: np.ndarray          # uint32 (nh * 256,): per context kind, a counter per bit-history state
    match_tab: np.ndarray   # int32 (MATCH_WAYS * 2^match_bits,) positions by hash of the last match_min bytes
    match_sm: np.ndarray    # (2 * MATCH_BUCKETS,) match strength by (length bucket, expected bit)
    # mixers (int32 weights, 16.16 fixed point)
    weights: np.ndarray     # (mixer_rows(nh), nin): the weight sets of the mixers, mixer k's
                            # from row MIXER_BASE[k] on (see _mixer_rows)
    w_final: np.ndarray     # (256, N_MIXERS): the final mixer over the mixers' outputs, by c0
    # APMs (uint16, APM_KNOTS per context)
    apm: np.ndarray         # (APM_ROWS * APM_KNOTS,): the three APMs, APM k's rows from APM_BASE[k]
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
    nex: np.ndarray         # uint8 (512,): bit_history.NEXT
    rec_last: np.ndarray    # int64 (256,): where each byte value was last coded (-1: never)
    rec_dist: np.ndarray    # int64 (256,): the distance between its last two occurrences
    # scratch of the current byte / bit
    cum: np.ndarray         # int64 (257,): the transformer's cumulative frequencies
    ctx_hash: np.ndarray    # int64 (nh,): the hash of each context kind
    slot: np.ndarray        # int64 (nh,): each context's bucket in ht for the current nibble
    inputs: np.ndarray      # int64 (nin,): the mixer inputs
    mixer_row: np.ndarray   # int64 (N_MIXERS,): the row of `weights` each mixer uses for this bit
    mixer_out: np.ndarray   # int64 (N_MIXERS,): each mixer's output (logit), the final mixer's inputs
    apm_knot: np.ndarray    # int64 (N_APMS,): the knot of `apm` each APM trains for this bit
    # run model (kernel 4 on; see RUN_BYTE_SHIFT)
    run_sm: np.ndarray      # uint32 (nh * 2 * RUN_BUCKETS,): run strength counters by context, run count, expected bit
    run_slot: np.ndarray    # int64 (nh,): each context's first-nibble bucket for this byte (its slot 0 holds the run)
    run_idx: np.ndarray     # int64 (nh,): the run strength counter each context's run input read (-1: none)


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


# --- small components -------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _mix32(x):
    """32-bit finalizer: a well-spread hash of x (x < 2^32)."""
    x = ((x ^ (x >> 16)) * MIX32_MUL) & M32
    x = ((x ^ (x >> 16)) * MIX32_MUL) & M32
    return x ^ (x >> 16)


@njit(cache=True, inline="always")
def _adapt(p, n, bit, rates, limit, p_max):
    """(p, n) after a bit: probability p (of p_max) moved toward bit by rates[n] / 2^16, then
    n += 1 up to limit. The rule of every counter and slot."""
    if bit:
        p += ((p_max - p) * int(rates[n])) >> RATE_BITS
    else:
        p -= (p * int(rates[n])) >> RATE_BITS
    return p, (n + 1 if n < limit else n)


@njit(cache=True, inline="always")
def _update(t, i, bit, rates, limit):
    """Counter t[i]: its 22-bit probability and 10-bit count after a bit (_adapt)."""
    v = int(t[i])
    p, n = _adapt(v >> COUNT_BITS, v & COUNT_MASK, bit, rates, limit, P22_MAX)
    t[i] = (p << COUNT_BITS) | n


@njit(cache=True, inline="always")
def _bucket(ht, h, c0, mask, kernel4):
    """(base, found): the bucket of context hash h for the nibble that starts at partial byte c0.
    Of the BUCKET_WAYS candidate buckets, the one whose check matches; else the one whose first
    node has seen the fewest bits is reset (check written, slots SLOT_INIT, no run) and found is 0.
    kernel4: the check is 1..65535 and matches slot 0's low 16 bits (a run is kept above them)."""
    hb = _mix32((h + c0 * PHI32) & M32)
    chk = _mix32(hb ^ CHECK_SALT) & CHECK_MASK
    check_bits = M32
    if kernel4:
        chk, check_bits = max(chk, 1), CHECK_MASK
    home = hb & mask
    best, best_n = 0, 1 << 30
    for w in range(BUCKET_WAYS):
        i = (home ^ w) << BUCKET_BITS
        if (int(ht[i]) & check_bits) == chk:
            return i, 1
        n = (int(ht[i + 1]) >> SLOT_COUNT_SHIFT) & SLOT_COUNT_MASK
        if n < best_n:
            best, best_n = i, n
    ht[best] = chk
    for k in range(1, BUCKET_SLOTS):
        ht[best + k] = SLOT_INIT
    return best, 0


@njit(cache=True, inline="always")
def _update_slot(ht, i, bit, rates, limit, nex):
    """Slot ht[i]: its 16-bit probability and 8-bit count after a bit (_adapt), and its bit history
    takes the bit; returns the bit-history state it had (the one its state map learns)."""
    v = int(ht[i])
    h = v & SLOT_STATE_MASK
    p, n = _adapt(v >> SLOT_P_SHIFT, (v >> SLOT_COUNT_SHIFT) & SLOT_COUNT_MASK, bit, rates, limit, SLOT_P_MAX)
    ht[i] = (p << SLOT_P_SHIFT) | (n << SLOT_COUNT_SHIFT) | int(nex[2 * h + bit])
    return h


@njit(cache=True, inline="always")
def _apm(t, ctx, p, stretch, both):
    """(refined p, knot to train): row ctx of APM t interpolated at stretch(p); the knot is the
    lower of the two (`both`: both are trained) or else the nearer."""
    s = int(stretch[p]) + SQ_OFFSET
    lo, w = s >> APM_STEP_BITS, s & ((1 << APM_STEP_BITS) - 1)
    i = ctx * APM_KNOTS + lo
    q = (int(t[i]) * ((1 << APM_STEP_BITS) - w) + int(t[i + 1]) * w) >> (APM_STEP_BITS + APM_SCALE_BITS)
    return min(max(q, 1), P_MAX), i if both else i + (w >> (APM_STEP_BITS - 1))


@njit(cache=True, inline="always")
def _train_apm(t, i, bit, rate, both):
    """Move APM knot t[i] (`both`: and t[i + 1]) toward bit (APM_TOP or 0) by 2^-rate of the distance."""
    g = APM_TOP if bit else 0
    t[i] = int(t[i]) + ((g - int(t[i])) >> rate)
    if both:
        t[i + 1] = int(t[i + 1]) + ((g - int(t[i + 1])) >> rate)


@njit(cache=True, inline="always")
def _dot(w, row, x, n):
    """Mixer output: the logit (sum of w[row, i] * x[i] over i < n) >> DOT_SHIFT, clamped."""
    s = 0
    for i in range(n):
        s += int(w[row, i]) * int(x[i])
    return min(max(s >> DOT_SHIFT, -LOGIT_MAX), LOGIT_MAX)


@njit(cache=True, inline="always")
def _train(w, row, x, n, err, rnd):
    """Mixer learning: w[row, i] += (x[i] * err + rnd) >> TRAIN_SHIFT, clamped to +-WEIGHT_MAX."""
    for i in range(n):
        v = int(w[row, i]) + ((int(x[i]) * err + rnd) >> TRAIN_SHIFT)
        w[row, i] = min(max(v, -WEIGHT_MAX), WEIGHT_MAX)


# --- once per byte: contexts -------------------------------------------------------------------

@njit(cache=True, inline="always")
def _byte_contexts(data, pos, s):
    """(c4, c8): the 4 bytes before pos (c1 in the low byte) and the 4 before those; bytes before
    the lane start (s bytes of the lane are coded) read as 0."""
    c4, c8 = 0, 0
    for i in range(1, 9):
        b = int(data[pos - i]) if i <= s else 0
        if i <= 4:
            c4 |= b << (8 * (i - 1))
        else:
            c8 |= b << (8 * (i - 5))
    return c4, c8


@njit(cache=True, inline="always")
def _context_hashes(data, lane_tab, orders, j, pos, s, c1, hsh):
    """hsh[k]: the hash of context kind orders[k] of lane j before pos (orders increasing, the
    special kinds last); each kind salted with (k + 1) * PHI32."""
    r, i = 0, 0
    for k in range(orders.shape[0]):
        o = int(orders[k])
        salt = ((k + 1) * PHI32) & M32
        if o == WORD:
            h = _mix32((_mix32(int(lane_tab[j, LANE_WORD]) ^ salt) + c1) & M32)
        elif o == WORD_PAIR:
            h = _mix32((_mix32(int(lane_tab[j, LANE_WORD]) ^ salt) + int(lane_tab[j, LANE_PREV_WORD])) & M32)
        elif o == WORD_SKIP:
            h = _mix32((_mix32(int(lane_tab[j, LANE_WORD]) ^ salt) + int(lane_tab[j, LANE_PREV_WORD2])) & M32)
        elif o == WORD_TRIPLE:
            h = _mix32((_mix32(int(lane_tab[j, LANE_WORD]) ^ salt) + int(lane_tab[j, LANE_PREV_WORD])) & M32)
            h = _mix32((h + int(lane_tab[j, LANE_PREV_WORD2])) & M32)
        elif o == RECORD:
            r, s0 = int(lane_tab[j, LANE_REC_LEN]), pos - s
            d = r if r > 0 else 1  # no record length yet: the last two bytes (an order-2 context)
            a1 = int(data[pos - d]) if pos - d >= s0 else NO_ABOVE
            a2 = int(data[pos - 2 * d]) if pos - 2 * d >= s0 else NO_ABOVE
            h = _mix32((_mix32((a1 << 9 | a2) ^ salt) + r) & M32)
        elif o == IMAGE:
            h = 0  # chosen per bit (_image_bucket)
        elif o == COLUMN:
            ls, ps = int(lane_tab[j, LANE_LINE]), int(lane_tab[j, LANE_PREV_LINE])
            col = pos - ls
            above = int(data[ps + col]) if ps >= 0 and ps + col < ls else NO_ABOVE
            h = _mix32((_mix32((above << 8 | min(col, COLUMN_CAP)) ^ salt) + c1) & M32)
        else:  # order o: a rolling hash of the last o bytes (0 before the lane start), extended
            while i < o:
                i += 1
                r = ((r + (int(data[pos - i]) if i <= s else 0) + 1) * ROLL_MUL) & M32
            h = _mix32(r ^ salt)
        hsh[k] = h


@njit(cache=True, inline="always")
def _image_rows(data, lane_tab, j, pos, s):
    """(a, b): the 3 bytes around the byte one row back (a: the one before it highest, the one
    after it lowest) and the 3 around the byte two rows back; 0 where a row is missing (no row
    length yet, or before the lane's start). The image context's pixels above, for the whole byte.
    The row length follows the record length (4.4.2) but takes neither one below IMAGE_MIN_ROW nor
    a multiple of its own (the record detector jumps to such lengths for stretches of a bitmap:
    on ptt5 to 2, 3 or 8 bytes and to 432 for a quarter of the file, where its rows are 216)."""
    r, s0 = int(lane_tab[j, LANE_REC_LEN]), pos - s
    row = int(lane_tab[j, LANE_IMG_ROW])
    if r >= IMAGE_MIN_ROW and (row == 0 or r % row != 0):
        row = r
        lane_tab[j, LANE_IMG_ROW] = r
    r = row
    a, b = 0, 0
    for k in range(-1, 2):
        q1, q2 = pos - r + k, pos - 2 * r + k
        a = (a << 8) | (int(data[q1]) if r > 0 and s0 <= q1 < pos else 0)
        b = (b << 8) | (int(data[q2]) if r > 0 and s0 <= q2 < pos else 0)
    return a, b


@njit(cache=True, inline="always")
def _image_bucket(ht, a, b, c0, c1, bp, salt, mask, kernel4):
    """The bucket of the image context for bit bp (bits before it: c0): hashed from the pixels
    above (IMAGE_ABOVE of row a, IMAGE_ABOVE2 of row b, centred on this bit's pixel) and the
    IMAGE_LEFT pixels before it (c1's, then c0's); `_bucket` with c0 = 0, so a pixel
    neighbourhood has the same statistics at every bit position. Returns (bucket, hit)."""
    x = 15 - bp  # this bit's pixel in a and b (bit 15 - bp: the middle byte's bit 7 - bp)
    up = (a >> (x - IMAGE_ABOVE // 2)) & ((1 << IMAGE_ABOVE) - 1)
    up2 = (b >> (x - IMAGE_ABOVE2 // 2)) & ((1 << IMAGE_ABOVE2) - 1)
    left = ((c1 << bp) | (c0 & ((1 << bp) - 1))) & ((1 << IMAGE_LEFT) - 1)
    ctx = (up << (IMAGE_ABOVE2 + IMAGE_LEFT)) | (up2 << IMAGE_LEFT) | left
    return _bucket(ht, _mix32(ctx ^ salt), 0, mask, kernel4)


@njit(cache=True, inline="always")
def _is_known(known, i):
    """Whether byte i is coded (the `known` bitmap)."""
    return (known[i >> 3] >> (i & 7)) & 1


@njit(cache=True, inline="always")
def _find_match(data, known, lane_tab, match_tab, cfg, j, pos, s, c4, c8):
    """Keep lane j's match if the byte it predicts is known, else look one up (the longest of the
    bucket's candidates that shares >= match_min bytes); then file pos under the last match_min
    bytes. Needs s >= match_min bytes of lane history."""
    n, mmin = data.shape[0], int(cfg[CFG_MATCH_MIN])
    if lane_tab[j, LANE_MATCH_LEN] > 0:
        p = int(lane_tab[j, LANE_MATCH_PTR])
        if p >= n or not _is_known(known, p):
            lane_tab[j, LANE_MATCH_LEN] = 0
    if s < mmin:
        return
    lo = c4 if mmin >= 4 else c4 & ((1 << (8 * mmin)) - 1)
    hi = c8 & ((1 << (8 * max(mmin - 4, 0))) - 1)
    b = (_mix32(_mix32(lo ^ MATCH_SALT) ^ hi) & int(cfg[CFG_MATCH_MASK])) * MATCH_WAYS
    if lane_tab[j, LANE_MATCH_LEN] == 0:
        start, best, best_p = pos - s, 0, 0
        for k in range(MATCH_WAYS):
            cand = int(match_tab[b + k])
            if cand <= 0 or cand >= n or not _is_known(known, cand):
                continue
            ln = 0
            while ln < MAX_MATCH_CHECK:
                a, c = pos - 1 - ln, cand - 1 - ln
                if a < start or c < 0 or not _is_known(known, c) or data[c] != data[a]:
                    break
                ln += 1
            if ln >= mmin and ln > best:
                best, best_p = ln, cand
        if best > 0:
            lane_tab[j, LANE_MATCH_PTR], lane_tab[j, LANE_MATCH_LEN] = best_p, best
    if match_tab[b] != pos:
        match_tab[b + 1] = match_tab[b]
        match_tab[b] = pos


@njit(cache=True, inline="always")
def _cumulate(frow, cum):
    """cum[v] = sum of the clamped (to [0, FREQ_MAX], NaN to 0, then truncated) frequencies below
    v; returns the total (0 when frow is empty: no transformer)."""
    total = 0
    cum[0] = 0
    for v in range(frow.shape[0]):
        f = frow[v]
        if not f >= 0.0:
            f = 0.0
        elif f > FREQ_MAX:
            f = FREQ_MAX
        total += int(f)
        cum[v + 1] = total
    return total


# --- per bit: inputs, prediction, coding, learning ---------------------------------------------

@njit(cache=True, inline="always")
def _select_buckets(ht, ctx_hash, slot, n, c0, mask, kernel4):
    """At a nibble start (bit 0 or 4): slot[i] = the bucket of context i < n (the kinds hashed per
    byte) for partial byte c0; returns how many of them were found (not new)."""
    found = 0
    for i in range(n):
        base, hit = _bucket(ht, int(ctx_hash[i]), c0, mask, kernel4)
        slot[i] = base
        found += hit
    return found


@njit(cache=True, inline="always")
def _counter_inputs(x, stretch, t0, t1, ht, sm, slot, c0, c1, nib):
    """The bias and the counter inputs: order 0, order 1 and, per context, from the slot of node
    nib of its nibble tree: stretch(p) of its direct probability, the same scaled by its count, and
    stretch(p) of its bit history's state map."""
    nh = slot.shape[0]
    x[IN_BIAS] = BIAS
    x[IN_ORDER0] = stretch[int(t0[c0]) >> COUNTER_TO_P]
    x[IN_ORDER1] = stretch[int(t1[(c1 << 8) | c0]) >> COUNTER_TO_P]
    for i in range(nh):
        v = int(ht[slot[i] + nib])
        h = v & SLOT_STATE_MASK
        sv = int(stretch[v >> SLOT_TO_P])
        x[IN_CONTEXTS + i] = sv
        x[N_FIXED + nh + i] = (sv * (min((v >> SLOT_COUNT_SHIFT) & SLOT_COUNT_MASK, CONF_CAP) + 1)) >> CONF_SHIFT
        x[N_FIXED + 2 * nh + i] = stretch[int(sm[i * 256 + h]) >> COUNTER_TO_P]


@njit(cache=True, inline="always")
def _run_inputs(x, stretch, ht, run_slot, run_sm, run_idx, n, bp, c0):
    """Kernel 4 on: the run input of each context i < n (the kinds hashed per byte; the others' stay 0):
    where its run's byte agrees with the partial byte c0, stretch(p) of its run strength counter
    (by i, the run count capped at RUN_BUCKETS - 1 and the bit the byte expects; run_idx[i]), else 0."""
    at = x.shape[0] - run_idx.shape[0]  # N_FIXED + 3 * nh
    for i in range(n):
        v = np.int64(ht[run_slot[i]])  # (int() of a uint32 may type as unsigned, which min() turns to float)
        rc, rb = v >> RUN_COUNT_SHIFT, ((v >> RUN_BYTE_SHIFT) & 255) | 256
        if rc > 0 and (rb >> (8 - bp)) == c0:
            k = ((i * RUN_BUCKETS + min(rc, RUN_BUCKETS - 1)) << 1) + ((rb >> (7 - bp)) & 1)
            run_idx[i] = k
            x[at + i] = stretch[int(run_sm[k]) >> COUNTER_TO_P]
        else:
            run_idx[i] = -1
            x[at + i] = 0


@njit(cache=True, inline="always")
def _match_input(x, stretch, match_sm, nh, bp, c0, mlen, eb, mb):
    """The match input (0 unless the predicted byte eb (256 | byte) agrees with the partial byte
    c0); returns (its strength counter, or -1; the match state 0..3). mb: the length bucket."""
    if mlen > 0 and (eb >> (8 - bp)) == c0:
        midx = mb * 2 + ((eb >> (7 - bp)) & 1)
        x[IN_CONTEXTS + nh] = stretch[int(match_sm[midx]) >> COUNTER_TO_P]
        return midx, 1 if mlen < MATCH_EXACT else (2 if mlen < MATCH_LONG else 3)
    x[IN_CONTEXTS + nh] = 0
    return -1, 0


@njit(cache=True, inline="always")
def _transformer_p(cum, total, bp, c0):
    """The transformer's 12-bit probability that bit bp is 1: the upper half of the byte values
    that extend the partial byte c0, over all of them (rounded, clamped to [1, P_MAX]); 1/2 when
    they have no frequency."""
    size = 256 >> bp
    lo = (c0 - (1 << bp)) * size
    tot = cum[lo + size] - cum[lo] if total > 0 else 0
    if tot <= 0:
        return PROB_ONE >> 1
    pt = ((cum[lo + size] - cum[lo + (size >> 1)]) * PROB_ONE + (tot >> 1)) // tot
    return min(max(pt, 1), P_MAX)


@njit(cache=True, inline="always")
def _byte_class(c):
    """The fifth mixer's class of a byte: a lower-case letter, an upper-case one, a digit, a space,
    a newline, sentence punctuation (. , ; ! ?), a byte >= 128, anything else (0..N_CLASSES - 1)."""
    if 97 <= c <= 122:
        return 0
    if 65 <= c <= 90:
        return 1
    if 48 <= c <= 57:
        return 2
    if c == 32:
        return 3
    if c == NEWLINE:
        return 4
    if c == 46 or c == 44 or c == 59 or c == 33 or c == 63:
        return 5
    return 6 if c >= 128 else 7


@njit(cache=True, inline="always")
def _mixer_rows(rows, nh, bp, c0, c1, c2, found, ms):
    """The weight set of each mixer for bit bp: by the partial byte c0; by the previous byte c1; by
    the byte before it, c2; by match state ms, context hits `found` (0..nh) and bp; by the classes
    of c1 and c2 and bp (kernel 3 on)."""
    rows[0] = MIXER_BASE[0] + c0
    rows[1] = MIXER_BASE[1] + c1
    rows[2] = MIXER_BASE[2] + c2
    rows[3] = MIXER_BASE[3] + (ms * (nh + 1) + found) * 8 + bp
    rows[4] = MIXER_BASE[4] + ((_byte_class(c1) * N_CLASSES + _byte_class(c2)) << 3) + bp


@njit(cache=True, inline="always")
def _mix(weights, w_final, rows, x, outs, squash, c0, n_mixers):
    """The mixed probability pm (12 bits): each of the first n_mixers mixers' logit
    outs[k] = dot(weights[rows[k]], x), then the final mixer's row c0 over them, squashed."""
    nin = x.shape[0]
    for k in range(n_mixers):
        outs[k] = _dot(weights, rows[k], x, nin)
    return int(squash[_dot(w_final, c0, outs, n_mixers) + SQ_OFFSET])


@njit(cache=True, inline="always")
def _refine(apm, knots, stretch, pm, c0, c1, row2, both, blend):
    """The coded probability: pm blended with its three APM refinements (by c0; by c1 and c0; by
    row row2 of APM2, its context with c0) with the weights `blend` (BLEND); knots[k] receives the
    knot APM k trains (`both`: the lower of two)."""
    p0, knots[0] = _apm(apm, APM_BASE[0] + c0, pm, stretch, both)
    p1, knots[1] = _apm(apm, APM_BASE[1] + ((c1 << 8) | c0), pm, stretch, both)
    p2, knots[2] = _apm(apm, APM_BASE[2] + row2, pm, stretch, both)
    p = (blend[0] * pm + blend[1] * p0 + blend[2] * p1 + blend[3] * p2
         + (1 << (BLEND_SHIFT - 1))) >> BLEND_SHIFT
    return min(max(p, 1), P_MAX)


@njit(cache=True, inline="always")
def _code_bit(mode, bit, p, regs, out, blob):
    """Binary arithmetic coder: code a bit of probability p / PROB_ONE of being 1; returns the bit
    (COMPRESS: `bit`, its leading bytes written to out; DECOMPRESS: decided from regs[REG_X],
    further bytes read from blob, 0 past its end)."""
    x1, x2 = int(regs[REG_X1]), int(regs[REG_X2])
    rng = x2 - x1
    xmid = x1 + (rng >> PROB_BITS) * p + (((rng & (PROB_ONE - 1)) * p) >> PROB_BITS)
    if mode == DECOMPRESS:
        bit = 1 if int(regs[REG_X]) <= xmid else 0
    if bit:
        x2 = xmid
    else:
        x1 = xmid + 1
    while ((x1 ^ x2) & TOP_MASK) == 0:
        if mode == COMPRESS:
            out[regs[REG_OUT]] = x2 >> 24
            regs[REG_OUT] += 1
        else:
            ip = int(regs[REG_IN])
            regs[REG_X] = ((int(regs[REG_X]) << 8) & M32) | (int(blob[ip]) if ip < blob.shape[0] else 0)
            regs[REG_IN] = ip + 1
        x1 = (x1 << 8) & M32
        x2 = ((x2 << 8) & M32) | 255
    regs[REG_X1], regs[REG_X2] = x1, x2
    return bit


@njit(cache=True, inline="always")
def _learn_counters(t0, t1, ht, sm, nex, slot, match_sm, rates, bit, c0, c1, nib, midx, limit):
    """Every counter that gave an input moves toward bit: order 0, order 1, each context's state
    map entry and node (its probability and its bit history), and the match strength midx (if >= 0;
    its count capped at MATCH_STRENGTH_LIMIT)."""
    _update(t0, c0, bit, rates, limit)
    _update(t1, (c1 << 8) | c0, bit, rates, limit)
    for i in range(slot.shape[0]):
        h = _update_slot(ht, slot[i] + nib, bit, rates, limit, nex)
        _update(sm, i * 256 + h, bit, rates, SM_LIMIT)
    if midx >= 0:
        _update(match_sm, midx, bit, rates, MATCH_STRENGTH_LIMIT)


@njit(cache=True, inline="always")
def _learn_runs(run_sm, run_idx, rates, bit):
    """Kernel 4 on: each run strength counter that gave an input moves toward bit."""
    for i in range(run_idx.shape[0]):
        if run_idx[i] >= 0:
            _update(run_sm, run_idx[i], bit, rates, RUN_STRENGTH_LIMIT)


@njit(cache=True, inline="always")
def _learn_mixers(weights, w_final, rows, x, outs, squash, bit, pm, c0, lr, n_mixers, final_lr, skip, rnd):
    """Each of the n_mixers mixers' row learns from its own error err = (bit << 12) - squash(outs[k]),
    times lr, unless |err| < skip; the final mixer's row c0 from (bit << 12) - pm, times final_lr.
    rnd: the rounding of every step (TRAIN_ROUND, or 0)."""
    nin, y = x.shape[0], bit << PROB_BITS
    for k in range(n_mixers):
        err = y - int(squash[outs[k] + SQ_OFFSET])
        if err >= skip or err <= -skip:
            _train(weights, rows[k], x, nin, err * lr, rnd)
    _train(w_final, c0, outs, n_mixers, (y - pm) * final_lr, rnd)


# --- once per byte: bookkeeping ----------------------------------------------------------------

@njit(cache=True, inline="always")
def _end_runs(ht, run_slot, n, c):
    """Kernel 4 on: the byte c extends the run of each context i < n whose run byte it is (its count
    up to RUN_COUNT_MAX), and starts a run of 1 in the others; each in slot 0 of the bucket it had at
    bit 0, the check kept (where a bucket chosen at bit 4 took that place, in its slot 0)."""
    for i in range(n):
        b = run_slot[i]
        v = np.int64(ht[b])
        rc, rb = v >> RUN_COUNT_SHIFT, (v >> RUN_BYTE_SHIFT) & 255
        rc = min(rc + 1, RUN_COUNT_MAX) if rc > 0 and rb == c else 1
        ht[b] = (v & CHECK_MASK) | (c << RUN_BYTE_SHIFT) | (rc << RUN_COUNT_SHIFT)


@njit(cache=True, inline="always")
def _end_byte(data, known, lane_tab, j, pos, c, mlen, eb, rec_last, rec_dist):
    """Lane j coded byte c at pos: store it, advance the lane, extend or end its match (mlen, eb
    as before the byte), track line starts, the word hashes and the record length (FORMAT.md 4.4.2)."""
    data[pos] = c
    known[pos >> 3] |= 1 << (pos & 7)
    lane_tab[j, LANE_DONE] += 1
    if mlen > 0:
        if (eb & 255) == c:
            lane_tab[j, LANE_MATCH_PTR] += 1
            lane_tab[j, LANE_MATCH_LEN] = min(mlen + 1, MATCH_LEN_MAX)
        else:
            lane_tab[j, LANE_MATCH_LEN] = 0
    lp = int(rec_last[c])
    if int(lane_tab[j, LANE_START]) <= lp < pos:  # an earlier byte of this lane
        d = pos - lp
        if d == rec_dist[c] and d >= REC_MIN:
            if d == lane_tab[j, LANE_REC_CAND]:
                lane_tab[j, LANE_REC_HITS] += 1
                if lane_tab[j, LANE_REC_HITS] >= REC_CONFIRM:
                    lane_tab[j, LANE_REC_LEN] = d
            else:
                lane_tab[j, LANE_REC_CAND], lane_tab[j, LANE_REC_HITS] = d, 1
        rec_dist[c] = d
    rec_last[c] = pos
    if c == NEWLINE:
        lane_tab[j, LANE_PREV_LINE] = lane_tab[j, LANE_LINE]
        lane_tab[j, LANE_LINE] = pos + 1
    if c >= 128 or 65 <= c <= 90 or 97 <= c <= 122:  # a word byte: letters (case-folded), >= 128
        lane_tab[j, LANE_WORD] = ((lane_tab[j, LANE_WORD] * ROLL_MUL) + (c | 32) + 1) & M32
    elif lane_tab[j, LANE_WORD] != 0:
        lane_tab[j, LANE_PREV_WORD2] = lane_tab[j, LANE_PREV_WORD]
        lane_tab[j, LANE_PREV_WORD] = lane_tab[j, LANE_WORD]
        lane_tab[j, LANE_WORD] = 0


# --- entry points ------------------------------------------------------------------------------

@njit(cache=True)
def code_byte(mode, j, sym, frow, st):
    """Encode (COMPRESS) sym, or decode (DECOMPRESS), as lane j's next byte; returns the byte.
    frow: the transformer's 256 frequencies, or an empty array for uniform ones."""
    # the arrays, taken out of st once per byte (not per bit: each take costs a reference count)
    data, known, lane_tab, ht, slot, x = st.data, st.known, st.lane_tab, st.ht, st.slot, st.inputs
    t0, t1, match_sm, rates, sq, stt = st.t0, st.t1, st.match_sm, st.rates, st.squash, st.stretch
    weights, w_final, rows, outs = st.weights, st.w_final, st.mixer_row, st.mixer_out
    apm, knots, regs, out, blob = st.apm, st.apm_knot, st.regs, st.out, st.blob
    cfg, ctx_hash, cum = st.cfg, st.ctx_hash, st.cum
    sm, nex, run_sm, run_slot, run_idx = st.sm, st.nex, st.run_sm, st.run_slot, st.run_idx
    nh = slot.shape[0]
    mask, limit = int(cfg[CFG_HASH_MASK]), int(cfg[CFG_LIMIT])
    arate = int(cfg[CFG_APM_RATE])
    kernel3 = cfg[CFG_KERNEL] >= 3  # kernel 3 on: the fifth mixer, both APM knots trained, FINAL_LR
    n_mixers, final_lr = (N_MIXERS, FINAL_LR) if kernel3 else (N_MIXERS - 1, FINAL_LR_K2)
    kernel4 = cfg[CFG_KERNEL] >= 4  # kernel 4 on: runs, the order-3 APM and BLEND, rounded and skipped steps
    skip, rnd, blend = (SKIP_ERR, TRAIN_ROUND, BLEND) if kernel4 else (0, 0, BLEND_K3)
    lr = max(int(cfg[CFG_LR]), LR_START - (int(regs[REG_CODED]) >> LR_DECAY_BITS))
    regs[REG_CODED] += 1
    # the byte's contexts
    s, sym = int(lane_tab[j, LANE_DONE]), int(sym)
    pos = int(lane_tab[j, LANE_START]) + s
    c4, c8 = _byte_contexts(data, pos, s)
    c1, c2 = c4 & 255, (c4 >> 8) & 255
    h2 = _mix32(c4 & 0xFFFFFF) if kernel4 else (_mix32(c4 & 65535) & ((1 << APM2_HASH_BITS) - 1)) << 8
    _context_hashes(data, lane_tab, st.orders, j, pos, s, c1, ctx_hash)
    _find_match(data, known, lane_tab, st.match_tab, cfg, j, pos, s, c4, c8)
    mlen = int(lane_tab[j, LANE_MATCH_LEN])
    eb = int(data[lane_tab[j, LANE_MATCH_PTR]]) | 256 if mlen > 0 else 0
    mb = mlen if mlen < MATCH_EXACT else MATCH_EXACT + min((mlen - MATCH_EXACT) >> MATCH_STEP_BITS,
                                                           MATCH_BUCKETS - MATCH_EXACT - 1)
    total = _cumulate(frow, cum)
    # the image context (sorted last) takes a bucket per bit, from the rows above this byte
    image = nh > 0 and st.orders[nh - 1] == IMAGE
    n_bytewise = nh - 1 if image else nh
    img_a, img_b = _image_rows(data, lane_tab, j, pos, s) if image else (0, 0)
    img_salt = (nh * PHI32) & M32  # kind k's salt, k = nh - 1
    c0, found, nib = 1, 0, 1  # the partial byte (1 then the bits so far), its nibble's tree node
    for bp in range(8):
        if bp == 0 or bp == 4:
            found, nib = _select_buckets(ht, ctx_hash, slot, n_bytewise, c0, mask, kernel4), 1
            if bp == 0:
                run_slot[:n_bytewise] = slot[:n_bytewise]
        if image:  # its node is its bucket's first, where the others read node nib: slot + nib
            base, _ = _image_bucket(ht, img_a, img_b, c0, c1, bp, img_salt, mask, kernel4)
            slot[nh - 1] = base + 1 - nib
        # inputs
        _counter_inputs(x, stt, t0, t1, ht, sm, slot, c0, c1, nib)
        if kernel4:
            _run_inputs(x, stt, ht, run_slot, run_sm, run_idx, n_bytewise, bp, c0)
        midx, ms = _match_input(x, stt, match_sm, nh, bp, c0, mlen, eb, mb)
        x[IN_CONTEXTS + nh + 1] = stt[_transformer_p(cum, total, bp, c0)]
        # mixing and APM refinement
        _mixer_rows(rows, nh, bp, c0, c1, c2, found, ms)
        pm = _mix(weights, w_final, rows, x, outs, sq, c0, n_mixers)
        row2 = _mix32((h2 + c0 * PHI32) & M32) & APM2_ROW_MASK if kernel4 else h2 + c0
        p = _refine(apm, knots, stt, pm, c0, c1, row2, kernel3, blend)
        # coding
        bit = _code_bit(mode, (sym >> (7 - bp)) & 1, p, regs, out, blob)
        # learning
        _learn_counters(t0, t1, ht, sm, nex, slot, match_sm, rates, bit, c0, c1, nib, midx, limit)
        if kernel4:
            _learn_runs(run_sm, run_idx, rates, bit)
        _learn_mixers(weights, w_final, rows, x, outs, sq, bit, pm, c0, lr, n_mixers, final_lr, skip, rnd)
        for k in range(N_APMS):
            _train_apm(apm, knots[k], bit, arate, kernel3)
        c0 = (c0 << 1) | bit
        nib = (nib << 1) | bit
    c = c0 & 255
    if kernel4:
        _end_runs(ht, run_slot, n_bytewise, c)
    _end_byte(data, known, lane_tab, j, pos, c, mlen, eb, st.rec_last, st.rec_dist)
    return c


@njit(cache=True, nogil=True)
def code_step(mode, lanes, freqs, syms, st):
    """Code one step: the next byte of each lane in `lanes` (increasing), under its row of freqs;
    syms holds the bytes (COMPRESS) or receives them (DECOMPRESS)."""
    for k in range(lanes.shape[0]):
        syms[k] = code_byte(mode, int(lanes[k]), int(syms[k]), freqs[k], st)


@njit(cache=True, inline="always")
def exhausted(regs, blob):
    """Whether the decoder has read past the end of the coded data. The decoder reads a byte
    exactly where the encoder wrote one, and the encoder ends with the 4 bytes of x1, so decoding
    a valid stream never reads past its end: a stream that does is corrupt. (A stream that ends
    short, mixer.MixEncoder's `short_end`, may be read up to 4 bytes past it: the caller decides.)"""
    return regs[REG_IN] > blob.shape[0]


@njit(cache=True, nogil=True)
def code_adaptive(mode, src, step, until, st, ones):
    """Code whole steps from `step` to at most `until` with uniform transformer input (`ones`
    empty); stop early when the output buffer could overflow in the next step (COMPRESS) or the
    coded data is used up (DECOMPRESS, `exhausted`). Returns the next step. Encodes src (COMPRESS)."""
    lane_tab, regs, out = st.lane_tab, st.regs, st.out
    n_lanes = lane_tab.shape[0]
    longest = 0
    for j in range(n_lanes):
        longest = max(longest, int(lane_tab[j, LANE_LEN]))
    while step < min(longest, until):
        if mode == COMPRESS and regs[REG_OUT] + OUT_PER_BYTE * n_lanes + OUT_MARGIN > out.shape[0]:
            break
        for j in range(n_lanes):
            if lane_tab[j, LANE_LEN] > step:
                code_byte(mode, j, int(src[lane_tab[j, LANE_START] + step]), ones, st)
        step += 1
        if mode == DECOMPRESS and exhausted(regs, st.blob):
            break
    return step
