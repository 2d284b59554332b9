/* The context-mixing coder's kernel: models, mixers, APMs and a binary arithmetic coder.

   One function, code_byte, both encodes and decodes (`mode` COMPRESS / DECOMPRESS), so the two sides
   run the same model code. Every quantity that decides a coded bit is an integer in a fixed-size
   table (the squash, stretch and rate tables come from cm_kernel.py, built from integer knots), so
   any machine, compiler or instruction set codes the same bits. FORMAT.md section 4 specifies the
   same computation in prose; cm_kernel.py holds the Python side (the State's arrays, checked there
   before this code sees them, and the calls). Called through ctypes, from Python and from numba code
   (model_kernel.py). It replaced a numba kernel that coded the same bits: numba's start-up took about
   a second of every process, and the mixers' loops did not vectorize there.

   A byte is coded as 8 binary decisions, most significant bit first; per bit, in this order:
     inputs   select_buckets (bits 0 and 4), image_bucket, counter_inputs, run_inputs (kernel 4),
              match_input, transformer_p: the stretched predictions of a bias, order-0/1 counters,
              the hashed contexts (direct, through their bit histories, and the byte each last saw),
              the match model and the transformer
     predict  mixer_rows, mix: five mixers (kernel 2: four) and a final mixer over them; refine:
              three APMs and a fixed blend
     code     code_bit: the binary arithmetic coder
     learn    learn_counters, learn_runs, learn_mixers, train_apm: all that took part moves toward the bit
   and once per byte byte_contexts / context_hashes / image_rows / find_match before, end_runs /
   end_byte after.

   A counter is a uint32: a 22-bit probability of a 1 above a 10-bit count that sets its rate. A
   hashed context's slot is a uint32 too and holds two models of the bits seen there: a direct one (a
   16-bit probability and an 8-bit count) and an indirect one (an 8-bit bit-history state,
   bit_history.py, whose probability a per-kind state map learns). Both feed the mixers: the direct
   counts are the sharper on stationary text, the histories on data whose statistics shift (measured
   on the README benchmark: the two together beat either alone). From kernel 4 on, a context's
   first-nibble bucket also keeps, beside its check, the byte last seen in that context and how many
   times in a row (a run): a whole-byte prediction per context, as paq8's run model has.
   The arithmetic coder is a carry-less 32-bit binary coder (an interval [x1, x2] narrowed by a 12-bit
   probability per bit, leading bytes shifted out once x1 and x2 agree).

   Kernels: each archive names the kernel that coded it (its coder, mixN/...); the switches `kernel3`
   and `kernel4` in code_byte select what a later kernel changed; 4 is written. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* The byte coder is compiled twice on x86-64 Linux (GCC, clang): for the baseline and for x86-64-v3
   (AVX2), the one the CPU runs chosen when the library loads. Integer code: both code the same bits. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))  /* a hint only: compilers without it lose nothing but time */
#endif

typedef int64_t i64;
typedef uint64_t u64;
typedef int32_t i32;
typedef uint32_t u32;
typedef uint16_t u16;
typedef uint8_t u8;

/* code_byte modes */
enum { COMPRESS = 0, DECOMPRESS = 1 };
/* columns of the lane table, registers, configuration: as cm_kernel.py names and explains them */
enum { LANE_START, LANE_LEN, LANE_DONE, LANE_WORD, LANE_PREV_WORD, LANE_MATCH_PTR, LANE_MATCH_LEN, LANE_LINE,
       LANE_PREV_LINE, LANE_REC_LEN, LANE_REC_CAND, LANE_REC_HITS, LANE_IMG_ROW, LANE_PREV_WORD2, N_LANE_COLS };
enum { REG_X1, REG_X2, REG_X, REG_OUT, REG_IN, REG_CODED, N_REGS };
enum { CFG_HASH_MASK, CFG_MATCH_MASK, CFG_MATCH_MIN, CFG_LIMIT, CFG_LR, CFG_APM_RATE, CFG_KERNEL, N_CFG };
/* context kinds above the orders (cm_params.py) */
enum { WORD = 100, WORD_PAIR, WORD_SKIP, WORD_TRIPLE, COLUMN, RECORD, IMAGE };

#define M32 0xFFFFFFFFull
/* probabilities and logits */
#define PROB_BITS 12                 /* probabilities are 12-bit: PROB_ONE = 1 << PROB_BITS */
#define PROB_ONE (1 << PROB_BITS)
#define P_MAX (PROB_ONE - 1)         /* every coded probability lies in [1, P_MAX] */
#define LOGIT_MAX 2047               /* mixer outputs are clamped to [-LOGIT_MAX, LOGIT_MAX] (logit * 256) */
#define SQ_OFFSET 2048               /* squash table index of logit 0 */
/* counters */
#define COUNT_BITS 10                /* low bits: the number of observations n, capped at `limit` */
#define COUNT_MASK ((1 << COUNT_BITS) - 1)
#define P22_MAX ((1 << 22) - 1)      /* high 22 bits: the probability of a 1 */
#define COUNTER_TO_P 20              /* counter >> COUNTER_TO_P: its probability in 12 bits */
#define RATE_BITS 16                 /* rate table steps are out of 2^RATE_BITS */
#define SM_LIMIT COUNT_MASK          /* state maps average over all they see (a state is already a summary) */
#define MATCH_STRENGTH_LIMIT COUNT_MASK  /* match and run strength counters are never capped below full precision */
#define RUN_STRENGTH_LIMIT COUNT_MASK
/* hashing */
#define MIX32_MUL 0x45D9F3Bull       /* multiplier of the 32-bit finalizer mix32 */
#define PHI32 0x9E3779B1ull          /* golden-ratio constant: salt of context kind k is (k + 1) * PHI32; spreads c0 */
#define ROLL_MUL 0x2F0B4A73ull       /* multiplier of the rolling hashes of the order contexts and of words */
#define CHECK_SALT 0x5BD1E995ull     /* salt of a bucket's check from its hash */
#define MATCH_SALT 0x7F4A7C15ull     /* salt of the match table hash */
/* buckets and slots */
#define BUCKET_BITS 4                /* a bucket has 1 << BUCKET_BITS slots: a check and a 15-node nibble tree */
#define BUCKET_SLOTS (1 << BUCKET_BITS)
#define BUCKET_WAYS 2                /* a context's bucket is one of 2 neighbours (home ^ 0..1) */
#define CHECK_MASK 0xFFFFull         /* a check is 16 bits (in slot 0; SLOT_INIT there is > any check); kernels 2-3
                                        compare all of slot 0 with it, kernel 4 its low 16 bits with a check of
                                        1..65535 (0 reads as 1: SLOT_INIT's low bits are 0) and keeps the run above */
#define SLOT_P_SHIFT 16              /* a slot: a 16-bit probability, an 8-bit count, a bit-history state */
#define SLOT_COUNT_SHIFT 8
#define SLOT_P_MAX ((1 << 16) - 1)
#define SLOT_TO_P (SLOT_P_SHIFT + 4) /* slot >> SLOT_TO_P: its probability in 12 bits */
#define SLOT_COUNT_MASK 255
#define SLOT_STATE_MASK 255
#define SLOT_INIT (1u << 31)         /* probability 1/2, count 0, state 0 */
/* Run model (kernel 4): slot 0 of a context's first-nibble bucket (the one chosen at bit 0) holds the check
   in bits 0-15, the byte last coded in that context in bits 16-23 and how many times in a row it came in
   bits 24-31 (0: none yet); a run strength counter per context, capped run count and expected bit.
   Measured on the first MiB of 8 text files (scripts/ab_cm.py, kernel 3 otherwise): 0.22 % smaller (enwik8
   0.95 %) for about a tenth of the speed; one input for the highest-order run instead of one a context: 0.06 % */
#define RUN_BYTE_SHIFT 16
#define RUN_COUNT_SHIFT 24
#define RUN_COUNT_MAX 255
#define RUN_BUCKETS 16               /* run counts 1..15 have their own strength counters, longer runs share the last */
/* match model */
#define MATCH_WAYS 2                 /* positions per match table bucket, newest first */
#define MAX_MATCH_CHECK 32           /* a candidate's match length is verified over at most this many bytes */
#define MATCH_EXACT 16               /* lengths below this have their own strength bucket ... */
#define MATCH_STEP_BITS 3            /* ... longer ones share buckets of 8 lengths ... */
#define MATCH_BUCKETS 32             /* ... up to the last bucket; strength counters: 2 per bucket (expected bit) */
#define MATCH_LONG 32                /* match state (a mixer selector): 0 none, 1 below MATCH_EXACT, 2 below this, 3 */
#define MATCH_LEN_MAX 65535          /* a match's length stops growing here */
/* mixer inputs (their order: cm_kernel.py) */
#define IN_BIAS 0
#define IN_ORDER0 1
#define IN_ORDER1 2
#define IN_CONTEXTS 3
#define N_FIXED 5                    /* mixer inputs besides the hashed contexts */
#define BIAS 256                     /* the bias input */
#define CONF_CAP 31                  /* count-scaled input: stretch(p) * (min(n, CONF_CAP) + 1) >> CONF_SHIFT, */
#define CONF_SHIFT 5                 /* full strength once the slot has seen 31 bits */
#define FREQ_MAX 8589934592.0        /* 2^33: transformer frequencies are clamped to [0, FREQ_MAX] (NaN counts 0) */
#define MAX_CONTEXTS 16              /* cm_params.MAX_CONTEXTS */
#define MAX_INPUTS (N_FIXED + 4 * MAX_CONTEXTS)
/* mixers: weights are 16.16 fixed point int32 */
#define N_MIXERS 5                   /* by c0, by c1, by c2, by match state/context hits/bit position, and (kernel
                                        3 on) by the classes of c1 and c2 and the bit position; kernel 2: the first 4 */
#define N_CLASSES 8                  /* byte classes of the fifth mixer (byte_class) */
static const i64 MIXER_BASE[N_MIXERS] = {0, 256, 512, 768 + N_CLASSES * N_CLASSES * 8, 768};  /* cm_kernel.py */
#define DOT_SHIFT 16                 /* mixer output: (sum w * x) >> DOT_SHIFT, clamped to +-LOGIT_MAX */
#define TRAIN_SHIFT 14               /* weight step: (x * err * lr) >> TRAIN_SHIFT, err = (bit << 12) - p */
#define TRAIN_ROUND (1 << (TRAIN_SHIFT - 1))  /* kernel 4 adds this first: a truncated step drifts every weight down */
#define SKIP_ERR 32                  /* kernel 4: a first-layer mixer whose |err| is below this learns nothing from
                                        the bit (the first MiB of 8 text files, lr 6: 0.05 % smaller than learning
                                        from every bit; 8: 0.03 %, 128: 0.02 %) */
#define WEIGHT_MAX ((1 << 24) - 1)   /* weights are clamped to +-WEIGHT_MAX */
#define INPUT_MAX 2048               /* |x| of every mixer input (stretch: [-2048, 2047]; BIAS) */
#define WEIGHT_SPLIT 12              /* dot: a weight's high and low parts */
#define TRAIN32_ERR (1 << 19)        /* train: |x * err| + TRAIN_ROUND < 2^31 below this (|x| <= INPUT_MAX) */
#define LR_START 12                  /* the mixers learn at this rate at first, one less every 2^LR_DECAY_BITS bytes */
#define LR_DECAY_BITS 13             /* coded, down to `lr`: fast to find what matters, steady once it is found */
#define FINAL_LR 1                   /* learning rate of the final mixer over the mixers' outputs (kernel 2: 2) */
#define FINAL_LR_K2 2
/* APMs: per context 33 knots (16-bit probabilities) over the stretched input probability */
#define N_APMS 3                     /* by c0; by c1 and c0; by a hash of c2 c1 (kernel 4: c3 c2 c1) and c0 */
static const i64 APM_BASE[N_APMS] = {0, 256, 256 + 65536};  /* first context row of each APM */
#define APM_KNOTS 33
#define APM_STEP_BITS 7              /* knots every 128 of stretch(p) + SQ_OFFSET */
#define APM_SCALE_BITS 4             /* an APM entry is a 12-bit probability times 16 */
#define APM_TOP 65535                /* training target of a 1 (0 for a 0); kernel 3 on trains both knots around
                                        stretch(p), kernel 2 the nearer one */
#define APM2_HASH_BITS 8             /* kernels 2-3: the order-2 APM's context is 8 hashed bits of the last 2 bytes,
                                        then c0; */
#define APM2_ROW_MASK 0xFFFFull      /* kernel 4: 16 hashed bits of the last 3 bytes and c0 together (0.05 % smaller) */
/* Final probability: (BLEND_MIX * mixer + BLEND_APM0 * apm0 + BLEND_APM1 * apm1 + BLEND_APM2 * apm2)
   / 2^BLEND_SHIFT, rounded. Kernel 4 leans on the order-3 APM and gives the order-0 one no weight (it
   measured nothing beside it: 1, 1, 3, 3 and 0, 0, 3, 5 within 0.01 %; 2, 1, 3, 2 0.10 % larger) */
static const i64 BLEND[4] = {1, 0, 3, 4};
static const i64 BLEND_K3[4] = {2, 1, 3, 2};  /* kernels 2 and 3 */
#define BLEND_SHIFT 3
/* arithmetic coder */
#define TOP_MASK 0xFF000000ll        /* the leading byte of x1 and x2; shifted out once equal */
#define OUT_PER_BYTE 32              /* output bytes one coded byte can need, at most (bound) */
#define OUT_MARGIN 8                 /* ... plus this, the free room the encoder keeps before a step */
/* lines, images, records */
#define NEWLINE 10                   /* ends a line (the column context) */
#define COLUMN_CAP 255               /* columns from here on share a context */
#define NO_ABOVE 256                 /* "byte above" when the previous line is too short or absent */
/* The image context (a bitmap: one bit a pixel, rows of r bytes, r the record length): for the bit at
   pixel x, IMAGE_ABOVE pixels of the row above centred on x, IMAGE_ABOVE2 of the row above that, and
   the IMAGE_LEFT pixels before x (measured on ptt5, a fax page: this context alone 24,645 bytes, cm's
   default set 33,521; a plain counter on these pixels 25,510, on 7, 3 and 9 pixels 25,973) */
#define IMAGE_ABOVE 9
#define IMAGE_ABOVE2 5
#define IMAGE_LEFT 7
#define IMAGE_MIN_ROW 16             /* record lengths below this (128 pixels) are not taken for an image's rows */
#define REC_MIN 2                    /* shortest record length detected */
#define REC_CONFIRM 3                /* a candidate record length is taken once seen this many times */

/* The coder's state: the addresses and sizes of the arrays of cm_kernel.State, one 8-byte word each,
   in this order (cm_kernel.C_STATE lists it; the Python side builds the words once per coder). */
typedef struct {
    u8 *data; i64 n;               /* the file's bytes as far as coded; its length */
    u8 *known;                     /* bit i & 7 of byte i >> 3: data[i] is coded */
    i64 *lane_tab; i64 n_lanes;    /* per lane, the LANE_* columns */
    u32 *t0, *t1;                  /* order-0 and order-1 counters */
    u32 *ht;                       /* hashed context buckets (each slot stored XOR SLOT_INIT: slot_read) */
    u32 *sm;                       /* per context kind, a counter per bit-history state */
    i32 *match_tab;                /* positions by hash of the last match_min bytes */
    u32 *match_sm;                 /* match strength counters */
    i32 *weights; i64 nin;         /* the mixers' weight sets, nin inputs each */
    i32 *w_final;                  /* the final mixer's, N_MIXERS each, by c0 */
    u16 *apm;                      /* the three APMs */
    i64 *regs;                     /* the REG_* registers */
    u8 *out; i64 out_size;         /* the encoder's output buffer */
    u8 *blob; i64 blob_size;       /* the decoder's input */
    i64 *cfg;                      /* the CFG_* parameters */
    i64 *orders; i64 nh;           /* the context kinds, sorted */
    i64 *squash, *stretch, *rates; /* constant tables */
    u8 *nex;                       /* bit-history state transitions */
    i64 *rec_last, *rec_dist;      /* per byte value: where last coded, the distance of its last two */
    u32 *run_sm;                   /* run strength counters (kernel 4) */
} State;

/* --- small components --------------------------------------------------------------------- */

/* 32-bit finalizer: a well-spread hash of x (x < 2^32). */
static inline u64 mix32(u64 x) {
    x = ((x ^ (x >> 16)) * MIX32_MUL) & M32;
    x = ((x ^ (x >> 16)) * MIX32_MUL) & M32;
    return x ^ (x >> 16);
}

static inline i64 min64(i64 a, i64 b) { return a < b ? a : b; }
static inline i64 max64(i64 a, i64 b) { return a > b ? a : b; }
static inline i64 clamp64(i64 v, i64 lo, i64 hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* Probability p (of p_max) moved toward bit by rates[*n] / 2^16, then *n += 1 up to limit: the rule
   of every counter and slot. */
static inline i64 adapt(i64 p, i64 *n, int bit, const i64 *rates, i64 limit, i64 p_max) {
    if (bit) p += ((p_max - p) * rates[*n]) >> RATE_BITS;
    else p -= (p * rates[*n]) >> RATE_BITS;
    if (*n < limit) *n += 1;
    return p;
}

/* Counter t[i]: its 22-bit probability and 10-bit count after a bit. */
static inline void update(u32 *t, i64 i, int bit, const i64 *rates, i64 limit) {
    i64 v = t[i], n = v & COUNT_MASK;
    i64 p = adapt(v >> COUNT_BITS, &n, bit, rates, limit, P22_MAX);
    t[i] = (u32)((p << COUNT_BITS) | n);
}

/* The hashed slots are stored XORed with SLOT_INIT, so that a table of zeros reads as SLOT_INIT in
   every slot: the Python side allocates it zeroed (calloc: the OS zeroes each page as it is first
   touched) instead of writing SLOT_INIT over up to 256 MiB before the first byte. */
static inline i64 slot_read(const u32 *ht, i64 i) { return ht[i] ^ SLOT_INIT; }
static inline void slot_write(u32 *ht, i64 i, i64 v) { ht[i] = (u32)v ^ SLOT_INIT; }

/* Slot ht[i]: its 16-bit probability and 8-bit count after a bit, and its bit history takes the bit;
   returns the bit-history state it had (the one its state map learns). */
static inline i64 update_slot(u32 *ht, i64 i, int bit, const i64 *rates, i64 limit, const u8 *nex) {
    i64 v = slot_read(ht, i), h = v & SLOT_STATE_MASK, n = (v >> SLOT_COUNT_SHIFT) & SLOT_COUNT_MASK;
    i64 p = adapt(v >> SLOT_P_SHIFT, &n, bit, rates, limit, SLOT_P_MAX);
    slot_write(ht, i, (p << SLOT_P_SHIFT) | (n << SLOT_COUNT_SHIFT) | nex[2 * h + bit]);
    return h;
}

/* The hash that places context hash h's bucket for the nibble starting at partial byte c0 (its low
   bits: the home bucket) and gives its check. */
static inline u64 bucket_hash(u64 h, i64 c0) { return mix32((h + (u64)c0 * PHI32) & M32); }

/* The bucket of context hash h for the nibble that starts at partial byte c0: of the BUCKET_WAYS
   candidates, the one whose check matches (*found = 1); else the one whose first node has seen the
   fewest bits is reset (check written, slots SLOT_INIT, no run) and *found = 0. kernel4: the check is
   1..65535 and matches slot 0's low 16 bits (a run is kept above them). */
static inline i64 bucket(u32 *ht, u64 h, i64 c0, u64 mask, int kernel4, int *found) {
    u64 hb = bucket_hash(h, c0);
    u64 chk = mix32(hb ^ CHECK_SALT) & CHECK_MASK, check_bits = M32;
    if (kernel4) {
        if (chk == 0) chk = 1;
        check_bits = CHECK_MASK;
    }
    u64 home = hb & mask;
    i64 best = 0, best_n = 1 << 30;
    for (u64 w = 0; w < BUCKET_WAYS; w++) {
        i64 i = (i64)((home ^ w) << BUCKET_BITS);
        if ((slot_read(ht, i) & check_bits) == chk) {
            *found = 1;
            return i;
        }
        i64 n = (slot_read(ht, i + 1) >> SLOT_COUNT_SHIFT) & SLOT_COUNT_MASK;
        if (n < best_n) best = i, best_n = n;
    }
    slot_write(ht, best, (i64)chk);
    for (int k = 1; k < BUCKET_SLOTS; k++) slot_write(ht, best + k, SLOT_INIT);
    *found = 0;
    return best;
}

/* Ask the memory for the two candidate buckets of context hash h at partial byte c0 (bucket's first
   step), ahead of their use: a bucket is a random 64-byte line of a table far larger than the caches. */
static inline void prefetch_bucket(const u32 *ht, u64 h, i64 c0, u64 mask) {
    u64 home = bucket_hash(h, c0) & mask;
    PREFETCH(ht + (home << BUCKET_BITS));
    PREFETCH(ht + ((home ^ 1) << BUCKET_BITS));
}

/* Row ctx of APM t interpolated at stretch(p); *knot: the knot to train, the lower of the two
   (`both`: both are trained) or else the nearer. */
static inline i64 apm_refine(const u16 *t, i64 ctx, i64 p, const i64 *stretch, int both, i64 *knot) {
    i64 s = stretch[p] + SQ_OFFSET;
    i64 lo = s >> APM_STEP_BITS, w = s & ((1 << APM_STEP_BITS) - 1);
    i64 i = ctx * APM_KNOTS + lo;
    i64 q = ((i64)t[i] * ((1 << APM_STEP_BITS) - w) + (i64)t[i + 1] * w) >> (APM_STEP_BITS + APM_SCALE_BITS);
    *knot = both ? i : i + (w >> (APM_STEP_BITS - 1));
    return clamp64(q, 1, P_MAX);
}

/* Ask the memory for row ctx of an APM (66 bytes: two lines) before the bit's mixing, which hides
   the wait. */
static inline void prefetch_apm(const u16 *t, i64 ctx) {
    PREFETCH(t + ctx * APM_KNOTS);
    PREFETCH(t + ctx * APM_KNOTS + APM_KNOTS - 1);
}

/* APM knot t[i] (`both`: and t[i + 1]) moved toward bit (APM_TOP or 0) by 2^-rate of the distance. */
static inline void train_apm(u16 *t, i64 i, int bit, i64 rate, int both) {
    i64 g = bit ? APM_TOP : 0;
    t[i] = (u16)(t[i] + ((g - t[i]) >> rate));
    if (both) t[i + 1] = (u16)(t[i + 1] + ((g - t[i + 1]) >> rate));
}

/* Mixer output: the logit (sum of w[i] * x[i] over i < n) >> DOT_SHIFT, clamped. Exact, in 32-bit
   arithmetic that vectorizes (the sums of 64-bit products did not, on the x86-64 baseline): with w = hi *
   2^12 + lo (hi = w >> 12 in [-2^12, 2^12), lo in [0, 2^12)) and |x| <= 2^11 (INPUT_MAX), each partial
   sum stays below MAX_INPUTS * 2^23 < 2^30. */
static inline i64 dot(const i32 *w, const i32 *x, i64 n) {
    i32 s_hi = 0, s_lo = 0;
    for (i64 i = 0; i < n; i++) {
        s_hi += (w[i] >> WEIGHT_SPLIT) * x[i];
        s_lo += (w[i] & ((1 << WEIGHT_SPLIT) - 1)) * x[i];
    }
    return clamp64((((i64)s_hi << WEIGHT_SPLIT) + s_lo) >> DOT_SHIFT, -LOGIT_MAX, LOGIT_MAX);
}

/* Mixer learning: w[i] += (x[i] * err + rnd) >> TRAIN_SHIFT, clamped to +-WEIGHT_MAX. In 32-bit
   arithmetic where it is exact (|x * err| + rnd < 2^31: |err| < TRAIN32_ERR), else in 64-bit. */
static inline void train(i32 *w, const i32 *x, i64 n, i64 err, i64 rnd) {
    if (err < TRAIN32_ERR && err > -TRAIN32_ERR) {
        i32 e = (i32)err, r = (i32)rnd;
        for (i64 i = 0; i < n; i++) {
            i32 v = w[i] + ((x[i] * e + r) >> TRAIN_SHIFT);
            w[i] = v < -WEIGHT_MAX ? -WEIGHT_MAX : (v > WEIGHT_MAX ? WEIGHT_MAX : v);
        }
    } else {
        for (i64 i = 0; i < n; i++)
            w[i] = (i32)clamp64(w[i] + (((i64)x[i] * err + rnd) >> TRAIN_SHIFT), -WEIGHT_MAX, WEIGHT_MAX);
    }
}

/* --- once per byte: contexts ------------------------------------------------------------------ */

/* Whether byte i is coded (the `known` bitmap). */
static inline int is_known(const u8 *known, i64 i) { return (known[i >> 3] >> (i & 7)) & 1; }

/* *c4, *c8: the 4 bytes before pos (c1 lowest) and the 4 before those; bytes before the lane start
   (s bytes of the lane are coded) read as 0. */
static inline void byte_contexts(const u8 *data, i64 pos, i64 s, u64 *c4, u64 *c8) {
    *c4 = *c8 = 0;
    for (i64 i = 1; i <= 8; i++) {
        u64 b = i <= s ? data[pos - i] : 0;
        if (i <= 4) *c4 |= b << (8 * (i - 1));
        else *c8 |= b << (8 * (i - 5));
    }
}

/* hsh[k]: the hash of context kind orders[k] of lane j (row lane) before pos; each kind salted with
   (k + 1) * PHI32. The orders come first (increasing: one rolling hash serves them all). */
static inline void context_hashes(const State *st, const i64 *lane, i64 pos, i64 s, u64 c1, u64 *hsh) {
    const u8 *data = st->data;
    u64 r = 0;
    i64 i = 0;
    for (i64 k = 0; k < st->nh; k++) {
        i64 o = st->orders[k];
        u64 salt = ((u64)(k + 1) * PHI32) & M32, h;
        u64 word = (u64)lane[LANE_WORD];
        if (o == WORD) {
            h = mix32((mix32(word ^ salt) + c1) & M32);
        } else if (o == WORD_PAIR) {
            h = mix32((mix32(word ^ salt) + (u64)lane[LANE_PREV_WORD]) & M32);
        } else if (o == WORD_SKIP) {
            h = mix32((mix32(word ^ salt) + (u64)lane[LANE_PREV_WORD2]) & M32);
        } else if (o == WORD_TRIPLE) {
            h = mix32((mix32(word ^ salt) + (u64)lane[LANE_PREV_WORD]) & M32);
            h = mix32((h + (u64)lane[LANE_PREV_WORD2]) & M32);
        } else if (o == RECORD) {
            i64 rl = lane[LANE_REC_LEN], s0 = pos - s;
            i64 d = rl > 0 ? rl : 1;  /* no record length yet: the last two bytes (an order-2 context) */
            u64 a1 = pos - d >= s0 ? data[pos - d] : NO_ABOVE;
            u64 a2 = pos - 2 * d >= s0 ? data[pos - 2 * d] : NO_ABOVE;
            h = mix32((mix32(((a1 << 9) | a2) ^ salt) + (u64)rl) & M32);
        } else if (o == IMAGE) {
            h = 0;  /* chosen per bit (image_bucket) */
        } else if (o == COLUMN) {
            i64 ls = lane[LANE_LINE], ps = lane[LANE_PREV_LINE], col = pos - ls;
            u64 above = ps >= 0 && ps + col < ls ? data[ps + col] : NO_ABOVE;
            h = mix32((mix32(((above << 8) | (u64)min64(col, COLUMN_CAP)) ^ salt) + c1) & M32);
        } else {  /* order o: a rolling hash of the last o bytes (0 before the lane start), extended */
            while (i < o) {
                i++;
                r = ((r + (i <= s ? data[pos - i] : 0) + 1) * ROLL_MUL) & M32;
            }
            h = mix32(r ^ salt);
        }
        hsh[k] = h;
    }
}

/* *a, *b: the 3 bytes around the byte one row back (the one before it highest) and the 3 around the
   byte two rows back; 0 where a row is missing (no row length yet, or before the lane's start). The row
   length follows the record length (FORMAT.md 4.4.2) but takes neither one below IMAGE_MIN_ROW nor a
   multiple of its own (the record detector jumps to such lengths for stretches of a bitmap: on ptt5 to
   2, 3 or 8 bytes and to 432 for a quarter of the file, where its rows are 216). */
static inline void image_rows(const u8 *data, i64 *lane, i64 pos, i64 s, u64 *a, u64 *b) {
    i64 r = lane[LANE_REC_LEN], s0 = pos - s, row = lane[LANE_IMG_ROW];
    if (r >= IMAGE_MIN_ROW && (row == 0 || r % row != 0)) {
        row = r;
        lane[LANE_IMG_ROW] = r;
    }
    *a = *b = 0;
    for (i64 k = -1; k <= 1; k++) {
        i64 q1 = pos - row + k, q2 = pos - 2 * row + k;
        *a = (*a << 8) | (row > 0 && s0 <= q1 && q1 < pos ? data[q1] : 0);
        *b = (*b << 8) | (row > 0 && s0 <= q2 && q2 < pos ? data[q2] : 0);
    }
}

/* The bucket of the image context for bit bp (bits before it: c0): hashed from the pixels above
   (IMAGE_ABOVE of row a, IMAGE_ABOVE2 of row b, centred on this bit's pixel) and the IMAGE_LEFT
   pixels before it; `bucket` with c0 = 0, so a pixel neighbourhood has the same statistics at every
   bit position. */
static inline i64 image_bucket(u32 *ht, u64 a, u64 b, i64 c0, u64 c1, int bp, u64 salt, u64 mask, int kernel4) {
    int x = 15 - bp, found;
    u64 up = (a >> (x - IMAGE_ABOVE / 2)) & ((1 << IMAGE_ABOVE) - 1);
    u64 up2 = (b >> (x - IMAGE_ABOVE2 / 2)) & ((1 << IMAGE_ABOVE2) - 1);
    u64 left = ((c1 << bp) | ((u64)c0 & ((1u << bp) - 1))) & ((1 << IMAGE_LEFT) - 1);
    u64 ctx = (up << (IMAGE_ABOVE2 + IMAGE_LEFT)) | (up2 << IMAGE_LEFT) | left;
    return bucket(ht, mix32(ctx ^ salt), 0, mask, kernel4, &found);
}

/* Keep lane j's match if the byte it predicts is known, else look one up (the longest of the
   bucket's candidates that shares >= match_min bytes); then file pos under the last match_min bytes. */
static inline void find_match(const State *st, i64 *lane, i64 pos, i64 s, u64 c4, u64 c8) {
    const u8 *data = st->data, *known = st->known;
    i32 *match_tab = st->match_tab;
    i64 n = st->n, mmin = st->cfg[CFG_MATCH_MIN];
    if (lane[LANE_MATCH_LEN] > 0) {
        i64 p = lane[LANE_MATCH_PTR];
        if (p >= n || !is_known(known, p)) lane[LANE_MATCH_LEN] = 0;
    }
    if (s < mmin) return;
    u64 lo = mmin >= 4 ? c4 : c4 & ((1ull << (8 * mmin)) - 1);
    u64 hi = c8 & ((1ull << (8 * max64(mmin - 4, 0))) - 1);
    i64 b = (i64)(mix32(mix32(lo ^ MATCH_SALT) ^ hi) & (u64)st->cfg[CFG_MATCH_MASK]) * MATCH_WAYS;
    if (lane[LANE_MATCH_LEN] == 0) {
        i64 start = pos - s, best = 0, best_p = 0;
        for (int k = 0; k < MATCH_WAYS; k++) {
            i64 cand = match_tab[b + k];
            if (cand <= 0 || cand >= n || !is_known(known, cand)) continue;
            i64 ln = 0;
            while (ln < MAX_MATCH_CHECK) {
                i64 a = pos - 1 - ln, c = cand - 1 - ln;
                if (a < start || c < 0 || !is_known(known, c) || data[c] != data[a]) break;
                ln++;
            }
            if (ln >= mmin && ln > best) best = ln, best_p = cand;
        }
        if (best > 0) lane[LANE_MATCH_PTR] = best_p, lane[LANE_MATCH_LEN] = best;
    }
    if (match_tab[b] != (i32)pos) {
        match_tab[b + 1] = match_tab[b];
        match_tab[b] = (i32)pos;
    }
}

/* cum[v] = the sum of the clamped (to [0, FREQ_MAX], NaN to 0, then truncated) frequencies below v;
   returns the total (0 without frequencies: no transformer). */
static inline i64 cumulate(const double *frow, i64 nfreq, i64 *cum) {
    i64 total = 0;
    cum[0] = 0;
    for (i64 v = 0; v < nfreq; v++) {
        double f = frow[v];
        if (!(f >= 0.0)) f = 0.0;
        else if (f > FREQ_MAX) f = FREQ_MAX;
        total += (i64)f;
        cum[v + 1] = total;
    }
    return total;
}

/* --- per bit ------------------------------------------------------------------------------------ */

/* At a nibble start (bit 0 or 4): slot[i] = the bucket of context i < n for partial byte c0;
   returns how many of them were found (not new). */
static inline i64 select_buckets(u32 *ht, const u64 *hsh, i64 *slot, i64 n, i64 c0, u64 mask, int kernel4) {
    i64 found = 0;
    for (i64 i = 0; i < n; i++) {
        int hit;
        slot[i] = bucket(ht, hsh[i], c0, mask, kernel4, &hit);
        found += hit;
    }
    return found;
}

/* The bias and the counter inputs: order 0, order 1 and, per context, from node nib of its nibble
   tree: stretch(p) of its direct probability, the same scaled by its count, and stretch(p) of its bit
   history's state map. */
static inline void counter_inputs(i32 *x, const State *st, const i64 *slot, i64 c0, i64 c1, i64 nib) {
    const i64 *stretch = st->stretch;
    i64 nh = st->nh;
    x[IN_BIAS] = BIAS;
    x[IN_ORDER0] = (i32)stretch[st->t0[c0] >> COUNTER_TO_P];
    x[IN_ORDER1] = (i32)stretch[st->t1[(c1 << 8) | c0] >> COUNTER_TO_P];
    for (i64 i = 0; i < nh; i++) {
        i64 v = slot_read(st->ht, slot[i] + nib), h = v & SLOT_STATE_MASK;
        i64 sv = stretch[v >> SLOT_TO_P];
        x[IN_CONTEXTS + i] = (i32)sv;
        x[N_FIXED + nh + i] = (i32)((sv * (min64((v >> SLOT_COUNT_SHIFT) & SLOT_COUNT_MASK, CONF_CAP) + 1)) >> CONF_SHIFT);
        x[N_FIXED + 2 * nh + i] = (i32)stretch[st->sm[i * 256 + h] >> COUNTER_TO_P];
    }
}

/* Kernel 4: the run input of each context i < n (the others' stay 0): where its run's byte agrees
   with the partial byte c0, stretch(p) of its run strength counter (by i, the run count capped at
   RUN_BUCKETS - 1 and the bit the byte expects; run_idx[i]), else 0 (run_idx[i] = -1). */
static inline void run_inputs(i32 *x, const State *st, const i64 *run_slot, i64 *run_idx, i64 n, int bp, i64 c0) {
    i64 at = st->nin - st->nh;
    for (i64 i = 0; i < n; i++) {
        i64 v = slot_read(st->ht, run_slot[i]);
        i64 rc = v >> RUN_COUNT_SHIFT, rb = ((v >> RUN_BYTE_SHIFT) & 255) | 256;
        if (rc > 0 && (rb >> (8 - bp)) == c0) {
            i64 k = ((i * RUN_BUCKETS + min64(rc, RUN_BUCKETS - 1)) << 1) + ((rb >> (7 - bp)) & 1);
            run_idx[i] = k;
            x[at + i] = (i32)st->stretch[st->run_sm[k] >> COUNTER_TO_P];
        } else {
            run_idx[i] = -1;
            x[at + i] = 0;
        }
    }
}

/* The match input (after the contexts'): where the match's expected byte eb (256 + byte) agrees with
   c0, stretch(p) of the strength counter of its length bucket mb and the bit it expects (*midx);
   else 0 (*midx = -1). Returns the match state 0..3 (a mixer selector). */
static inline i64 match_input(i32 *x, const State *st, int bp, i64 c0, i64 mlen, i64 eb, i64 mb, i64 *midx) {
    if (mlen > 0 && (eb >> (8 - bp)) == c0) {
        *midx = mb * 2 + ((eb >> (7 - bp)) & 1);
        x[IN_CONTEXTS + st->nh] = (i32)st->stretch[st->match_sm[*midx] >> COUNTER_TO_P];
        return mlen < MATCH_EXACT ? 1 : (mlen < MATCH_LONG ? 2 : 3);
    }
    x[IN_CONTEXTS + st->nh] = 0;
    *midx = -1;
    return 0;
}

/* The transformer's 12-bit probability that bit bp is 1: the upper half of the byte values that
   extend c0, over all of them (rounded, clamped); 1/2 when they have no frequency. */
static inline i64 transformer_p(const i64 *cum, i64 total, int bp, i64 c0) {
    i64 size = 256 >> bp, lo = (c0 - (1 << bp)) * size;
    i64 tot = total > 0 ? cum[lo + size] - cum[lo] : 0;
    if (tot <= 0) return PROB_ONE >> 1;
    i64 pt = ((cum[lo + size] - cum[lo + (size >> 1)]) * PROB_ONE + (tot >> 1)) / tot;
    return clamp64(pt, 1, P_MAX);
}

/* The fifth mixer's class of a byte: lower-case, upper-case, digit, space, newline, sentence
   punctuation (. , ; ! ?), >= 128, anything else. */
static inline i64 byte_class(i64 c) {
    if (c >= 97 && c <= 122) return 0;
    if (c >= 65 && c <= 90) return 1;
    if (c >= 48 && c <= 57) return 2;
    if (c == 32) return 3;
    if (c == NEWLINE) return 4;
    if (c == 46 || c == 44 || c == 59 || c == 33 || c == 63) return 5;
    return c >= 128 ? 6 : 7;
}

/* The weight set of each mixer for bit bp: by c0; by c1; by c2; by match state ms, context hits
   `found` and bp; by the classes of c1 and c2 and bp (kernel 3 on). */
static inline void mixer_rows(i64 *rows, i64 nh, int bp, i64 c0, i64 c1, i64 c2, i64 found, i64 ms) {
    rows[0] = MIXER_BASE[0] + c0;
    rows[1] = MIXER_BASE[1] + c1;
    rows[2] = MIXER_BASE[2] + c2;
    rows[3] = MIXER_BASE[3] + (ms * (nh + 1) + found) * 8 + bp;
    rows[4] = MIXER_BASE[4] + ((byte_class(c1) * N_CLASSES + byte_class(c2)) << 3) + bp;
}

/* The mixed probability (12 bits): each mixer's logit outs[k] = dot(its row, x), then the final
   mixer's row c0 over them, squashed. */
static inline i64 mix(const State *st, const i64 *rows, const i32 *x, i32 *outs, i64 c0, i64 n_mixers) {
    for (i64 k = 0; k < n_mixers; k++) outs[k] = (i32)dot(st->weights + rows[k] * st->nin, x, st->nin);
    return st->squash[dot(st->w_final + c0 * N_MIXERS, outs, n_mixers) + SQ_OFFSET];
}

/* The coded probability: pm blended with its three APM refinements (by c0; by c1 and c0; by row
   row2 of APM 2) with the weights blend; knots[k]: the knot APM k trains. */
static inline i64 refine(const State *st, i64 *knots, i64 pm, i64 c0, i64 c1, i64 row2, int both, const i64 *blend) {
    i64 p0 = apm_refine(st->apm, APM_BASE[0] + c0, pm, st->stretch, both, &knots[0]);
    i64 p1 = apm_refine(st->apm, APM_BASE[1] + ((c1 << 8) | c0), pm, st->stretch, both, &knots[1]);
    i64 p2 = apm_refine(st->apm, APM_BASE[2] + row2, pm, st->stretch, both, &knots[2]);
    i64 p = (blend[0] * pm + blend[1] * p0 + blend[2] * p1 + blend[3] * p2 + (1 << (BLEND_SHIFT - 1))) >> BLEND_SHIFT;
    return clamp64(p, 1, P_MAX);
}

/* Binary arithmetic coder: code a bit of probability p / PROB_ONE of being 1; returns the bit
   (COMPRESS: `bit`, leading bytes written to out; DECOMPRESS: decided from REG_X, further bytes read
   from blob, 0 past its end). */
static inline int code_bit(int mode, int bit, i64 p, const State *st) {
    i64 *regs = st->regs;
    i64 x1 = regs[REG_X1], x2 = regs[REG_X2], rng = x2 - x1;
    i64 xmid = x1 + (rng >> PROB_BITS) * p + (((rng & (PROB_ONE - 1)) * p) >> PROB_BITS);
    if (mode == DECOMPRESS) bit = regs[REG_X] <= xmid;
    if (bit) x2 = xmid;
    else x1 = xmid + 1;
    while (((x1 ^ x2) & TOP_MASK) == 0) {
        if (mode == COMPRESS) {
            st->out[regs[REG_OUT]++] = (u8)(x2 >> 24);
        } else {
            i64 ip = regs[REG_IN];
            regs[REG_X] = ((regs[REG_X] << 8) & (i64)M32) | (ip < st->blob_size ? st->blob[ip] : 0);
            regs[REG_IN] = ip + 1;
        }
        x1 = (x1 << 8) & (i64)M32;
        x2 = ((x2 << 8) & (i64)M32) | 255;
    }
    regs[REG_X1] = x1, regs[REG_X2] = x2;
    return bit;
}

/* Every counter that gave an input moves toward bit: order 0, order 1, each context's node (its
   probability and bit history) and state map entry, and the match strength midx (if >= 0). */
static inline void learn_counters(const State *st, const i64 *slot, int bit, i64 c0, i64 c1, i64 nib, i64 midx,
                                  i64 limit) {
    const i64 *rates = st->rates;
    update(st->t0, c0, bit, rates, limit);
    update(st->t1, (c1 << 8) | c0, bit, rates, limit);
    for (i64 i = 0; i < st->nh; i++) {
        i64 h = update_slot(st->ht, slot[i] + nib, bit, rates, limit, st->nex);
        update(st->sm, i * 256 + h, bit, rates, SM_LIMIT);
    }
    if (midx >= 0) update(st->match_sm, midx, bit, rates, MATCH_STRENGTH_LIMIT);
}

/* Kernel 4: each run strength counter that gave an input moves toward bit. */
static inline void learn_runs(const State *st, const i64 *run_idx, int bit) {
    for (i64 i = 0; i < st->nh; i++)
        if (run_idx[i] >= 0) update(st->run_sm, run_idx[i], bit, st->rates, RUN_STRENGTH_LIMIT);
}

/* Each mixer's row learns from its own error err = (bit << 12) - squash(outs[k]), times lr, unless
   |err| < skip; the final mixer's row c0 from (bit << 12) - pm, times final_lr; rnd rounds each step. */
static inline void learn_mixers(const State *st, const i64 *rows, const i32 *x, const i32 *outs, int bit, i64 pm,
                                i64 c0, i64 lr, i64 n_mixers, i64 final_lr, i64 skip, i64 rnd) {
    i64 y = (i64)bit << PROB_BITS;
    for (i64 k = 0; k < n_mixers; k++) {
        i64 err = y - st->squash[outs[k] + SQ_OFFSET];
        if (err >= skip || err <= -skip) train(st->weights + rows[k] * st->nin, x, st->nin, err * lr, rnd);
    }
    train(st->w_final + c0 * N_MIXERS, outs, n_mixers, (y - pm) * final_lr, rnd);
}

/* --- once per byte: bookkeeping ---------------------------------------------------------------- */

/* Kernel 4: the byte c extends the run of each context i < n whose run byte it is (count up to
   RUN_COUNT_MAX) and starts a run of 1 in the others, in slot 0 of the bucket it had at bit 0. */
static inline void end_runs(u32 *ht, const i64 *run_slot, i64 n, i64 c) {
    for (i64 i = 0; i < n; i++) {
        i64 v = slot_read(ht, run_slot[i]), rc = v >> RUN_COUNT_SHIFT, rb = (v >> RUN_BYTE_SHIFT) & 255;
        rc = rc > 0 && rb == c ? min64(rc + 1, RUN_COUNT_MAX) : 1;
        slot_write(ht, run_slot[i], (v & CHECK_MASK) | (c << RUN_BYTE_SHIFT) | (rc << RUN_COUNT_SHIFT));
    }
}

/* Lane `lane` coded byte c at pos: store it, advance the lane, extend or end its match (mlen, eb as
   before the byte), track line starts, the word hashes and the record length (FORMAT.md 4.4.2). */
static inline void end_byte(const State *st, i64 *lane, i64 pos, i64 c, i64 mlen, i64 eb) {
    st->data[pos] = (u8)c;
    st->known[pos >> 3] |= (u8)(1 << (pos & 7));
    lane[LANE_DONE] += 1;
    if (mlen > 0) {
        if ((eb & 255) == c) {
            lane[LANE_MATCH_PTR] += 1;
            lane[LANE_MATCH_LEN] = min64(mlen + 1, MATCH_LEN_MAX);
        } else {
            lane[LANE_MATCH_LEN] = 0;
        }
    }
    i64 lp = st->rec_last[c];
    if (lane[LANE_START] <= lp && lp < pos) {  /* an earlier byte of this lane */
        i64 d = pos - lp;
        if (d == st->rec_dist[c] && d >= REC_MIN) {
            if (d == lane[LANE_REC_CAND]) {
                lane[LANE_REC_HITS] += 1;
                if (lane[LANE_REC_HITS] >= REC_CONFIRM) lane[LANE_REC_LEN] = d;
            } else {
                lane[LANE_REC_CAND] = d, lane[LANE_REC_HITS] = 1;
            }
        }
        st->rec_dist[c] = d;
    }
    st->rec_last[c] = pos;
    if (c == NEWLINE) {
        lane[LANE_PREV_LINE] = lane[LANE_LINE];
        lane[LANE_LINE] = pos + 1;
    }
    if (c >= 128 || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) {  /* a word byte: letters (case-folded), >= 128 */
        lane[LANE_WORD] = (i64)((((u64)lane[LANE_WORD] * ROLL_MUL) + (u64)(c | 32) + 1) & M32);
    } else if (lane[LANE_WORD] != 0) {
        lane[LANE_PREV_WORD2] = lane[LANE_PREV_WORD];
        lane[LANE_PREV_WORD] = lane[LANE_WORD];
        lane[LANE_WORD] = 0;
    }
}

/* --- the byte --------------------------------------------------------------------------------- */

/* Encode (COMPRESS) sym, or decode (DECOMPRESS), as lane j's next byte under the transformer's nfreq
   (256, or 0: uniform) frequencies frow; returns the byte. */
CLONES static i64 code_byte(int mode, i64 j, i64 sym, const double *frow, i64 nfreq, const State *st) {
    i64 *lane = st->lane_tab + j * N_LANE_COLS, *regs = st->regs;
    const u8 *data = st->data;
    u32 *ht = st->ht;
    i64 nh = st->nh, kernel = st->cfg[CFG_KERNEL], limit = st->cfg[CFG_LIMIT], arate = st->cfg[CFG_APM_RATE];
    u64 mask = (u64)st->cfg[CFG_HASH_MASK];
    int kernel3 = kernel >= 3, kernel4 = kernel >= 4;
    i64 n_mixers = kernel3 ? N_MIXERS : N_MIXERS - 1, final_lr = kernel3 ? FINAL_LR : FINAL_LR_K2;
    i64 skip = kernel4 ? SKIP_ERR : 0, rnd = kernel4 ? TRAIN_ROUND : 0;
    const i64 *blend = kernel4 ? BLEND : BLEND_K3;
    i64 lr = max64(st->cfg[CFG_LR], LR_START - (regs[REG_CODED] >> LR_DECAY_BITS));
    regs[REG_CODED] += 1;
    /* the byte's contexts */
    i64 s = lane[LANE_DONE], pos = lane[LANE_START] + s;
    u64 c4, c8, hsh[MAX_CONTEXTS];
    byte_contexts(data, pos, s, &c4, &c8);
    i64 c1 = c4 & 255, c2 = (c4 >> 8) & 255;
    u64 h2 = kernel4 ? mix32(c4 & 0xFFFFFF) : (mix32(c4 & 65535) & ((1 << APM2_HASH_BITS) - 1)) << 8;
    context_hashes(st, lane, pos, s, (u64)c1, hsh);
    for (i64 i = 0; i < nh; i++) prefetch_bucket(ht, hsh[i], 1, mask);
    find_match(st, lane, pos, s, c4, c8);
    i64 mlen = lane[LANE_MATCH_LEN];
    i64 eb = mlen > 0 ? (data[lane[LANE_MATCH_PTR]] | 256) : 0;
    i64 mb = mlen < MATCH_EXACT ? mlen
             : MATCH_EXACT + min64((mlen - MATCH_EXACT) >> MATCH_STEP_BITS, MATCH_BUCKETS - MATCH_EXACT - 1);
    i64 cum[257];
    i64 total = cumulate(frow, nfreq, cum);
    /* the image context (sorted last) takes a bucket per bit, from the rows above this byte */
    int image = nh > 0 && st->orders[nh - 1] == IMAGE;
    i64 n_bytewise = image ? nh - 1 : nh;
    u64 img_a = 0, img_b = 0, img_salt = ((u64)nh * PHI32) & M32;
    if (image) image_rows(data, lane, pos, s, &img_a, &img_b);
    i32 x[MAX_INPUTS] = {0}, outs[N_MIXERS];
    i64 slot[MAX_CONTEXTS], run_slot[MAX_CONTEXTS], run_idx[MAX_CONTEXTS], rows[N_MIXERS], knots[N_APMS];
    for (i64 i = 0; i < nh; i++) run_idx[i] = -1;
    i64 c0 = 1, found = 0, nib = 1;  /* the partial byte (1, then the bits so far), its nibble's tree node */
    for (int bp = 0; bp < 8; bp++) {
        if (bp == 0 || bp == 4) {
            found = select_buckets(ht, hsh, slot, n_bytewise, c0, mask, kernel4), nib = 1;
            if (bp == 0)
                for (i64 i = 0; i < n_bytewise; i++) run_slot[i] = slot[i];
        }
        if (image)  /* its node is its bucket's first, where the others read node nib: slot + nib */
            slot[nh - 1] = image_bucket(ht, img_a, img_b, c0, (u64)c1, bp, img_salt, mask, kernel4) + 1 - nib;
        i64 row2 = kernel4 ? (i64)(mix32((h2 + (u64)c0 * PHI32) & M32) & APM2_ROW_MASK) : (i64)h2 + c0;
        prefetch_apm(st->apm, APM_BASE[1] + ((c1 << 8) | c0));
        prefetch_apm(st->apm, APM_BASE[2] + row2);
        if (bp == 3)  /* the next nibble's buckets, for either value of this bit */
            for (i64 i = 0; i < n_bytewise; i++) {
                prefetch_bucket(ht, hsh[i], c0 << 1, mask);
                prefetch_bucket(ht, hsh[i], (c0 << 1) | 1, mask);
            }
        /* inputs */
        counter_inputs(x, st, slot, c0, c1, nib);
        if (kernel4) run_inputs(x, st, run_slot, run_idx, n_bytewise, bp, c0);
        i64 midx, ms = match_input(x, st, bp, c0, mlen, eb, mb, &midx);
        x[IN_CONTEXTS + nh + 1] = (i32)st->stretch[transformer_p(cum, total, bp, c0)];
        /* mixing and APM refinement */
        mixer_rows(rows, nh, bp, c0, c1, c2, found, ms);
        i64 pm = mix(st, rows, x, outs, c0, n_mixers);
        i64 p = refine(st, knots, pm, c0, c1, row2, kernel3, blend);
        /* coding */
        int bit = code_bit(mode, (sym >> (7 - bp)) & 1, p, st);
        /* learning */
        learn_counters(st, slot, bit, c0, c1, nib, midx, limit);
        if (kernel4) learn_runs(st, run_idx, bit);
        learn_mixers(st, rows, x, outs, bit, pm, c0, lr, n_mixers, final_lr, skip, rnd);
        for (int k = 0; k < N_APMS; k++) train_apm(st->apm, knots[k], bit, arate, kernel3);
        c0 = (c0 << 1) | bit;
        nib = (nib << 1) | bit;
    }
    i64 c = c0 & 255;
    if (kernel4) end_runs(ht, run_slot, n_bytewise, c);
    end_byte(st, lane, pos, c, mlen, eb);
    return c;
}

/* --- entry points (ctypes; pointers as integers) ------------------------------------------------ */

/* Code one step: the next byte of each of the n lanes `lanes` (increasing), under its row of the
   (n, 256) frequencies freqs; syms holds the bytes (COMPRESS) or receives them (DECOMPRESS). */
void cm_code_step(i64 mode, u64 lanes, i64 n, u64 freqs, u64 syms, u64 state) {
    const State *st = (const State *)state;
    const i64 *ln = (const i64 *)lanes;
    i64 *sy = (i64 *)syms;
    for (i64 k = 0; k < n; k++)
        sy[k] = code_byte((int)mode, ln[k], sy[k], (const double *)freqs + 256 * k, 256, st);
}

/* Code whole steps from `step` to at most `until` with uniform transformer input; stop early where
   the output could overflow in the next step (COMPRESS) or the coded data is used up (DECOMPRESS:
   the decoder has read past the end of blob, which a valid stream never does). Returns the next
   step. Encodes src (COMPRESS). */
i64 cm_code_adaptive(i64 mode, u64 src, i64 step, i64 until, u64 state) {
    const State *st = (const State *)state;
    const u8 *in = (const u8 *)src;
    i64 longest = 0;
    for (i64 j = 0; j < st->n_lanes; j++) longest = max64(longest, st->lane_tab[j * N_LANE_COLS + LANE_LEN]);
    while (step < min64(longest, until)) {
        if (mode == COMPRESS && st->regs[REG_OUT] + OUT_PER_BYTE * st->n_lanes + OUT_MARGIN > st->out_size) break;
        for (i64 j = 0; j < st->n_lanes; j++) {
            const i64 *lane = st->lane_tab + j * N_LANE_COLS;
            if (lane[LANE_LEN] > step) code_byte((int)mode, j, mode == COMPRESS ? in[lane[LANE_START] + step] : 0, NULL, 0, st);
        }
        step++;
        if (mode == DECOMPRESS && st->regs[REG_IN] > st->blob_size) break;
    }
    return step;
}

/* The constants the Python side shares with this file, by name (cm_kernel.py's test checks them). */
const char cm_constant_names[] =
    "COMPRESS DECOMPRESS N_LANE_COLS LANE_START LANE_LEN LANE_REC_LEN LANE_LINE LANE_PREV_LINE N_REGS REG_X1 "
    "REG_X2 REG_X REG_OUT REG_IN N_CFG CFG_HASH_MASK CFG_MATCH_MASK CFG_MATCH_MIN CFG_LIMIT CFG_LR CFG_APM_RATE "
    "CFG_KERNEL IN_BIAS IN_CONTEXTS N_FIXED N_MIXERS N_APMS APM_KNOTS APM_STEP_BITS APM_SCALE_BITS BUCKET_BITS "
    "MATCH_WAYS MATCH_BUCKETS RUN_BUCKETS COUNT_BITS SLOT_INIT OUT_PER_BYTE OUT_MARGIN IMAGE_MIN_ROW SQ_OFFSET "
    "LOGIT_MAX MAX_CONTEXTS N_STATE_WORDS";
const i64 cm_constant_values[] = {
    COMPRESS, DECOMPRESS, N_LANE_COLS, LANE_START, LANE_LEN, LANE_REC_LEN, LANE_LINE, LANE_PREV_LINE, N_REGS, REG_X1,
    REG_X2, REG_X, REG_OUT, REG_IN, N_CFG, CFG_HASH_MASK, CFG_MATCH_MASK, CFG_MATCH_MIN, CFG_LIMIT, CFG_LR,
    CFG_APM_RATE, CFG_KERNEL, IN_BIAS, IN_CONTEXTS, N_FIXED, N_MIXERS, N_APMS, APM_KNOTS, APM_STEP_BITS,
    APM_SCALE_BITS, BUCKET_BITS, MATCH_WAYS, MATCH_BUCKETS, RUN_BUCKETS, COUNT_BITS, SLOT_INIT, OUT_PER_BYTE,
    OUT_MARGIN, IMAGE_MIN_ROW, SQ_OFFSET, LOGIT_MAX, MAX_CONTEXTS, sizeof(State) / 8};

/* An importable module with nothing in it: setuptools builds extension modules, and the package
   finds this file by its module name; cm_kernel.py loads it with ctypes. */
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, .m_name = "_cm_kernel",
                                    .m_doc = "mdlzip's cm kernel (loaded with ctypes)", .m_size = -1};
PyMODINIT_FUNC PyInit__cm_kernel(void) { return PyModule_Create(&module); }
