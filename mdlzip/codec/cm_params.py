"""Configuration of the context-mixing coder, as stored in an archive (FORMAT.md 4.1).

Pure Python (no numba, no torch): reading or validating an archive's configuration loads no kernel.
The kernels (cm_kernel.py) and the coder (mixer.py) take their constants from here.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

PROB_ONE = 4096  # the coder's probabilities are integers in [1, PROB_ONE - 1] out of PROB_ONE

# Context kinds, as the kernel sees them: an order o in 1..MAX_ORDER hashes the last o bytes;
# the special kinds have codes above every order (the kernel sorts them last, image last of all; their
# order among themselves places their mixer inputs: archives store names, so a new kind may take any code
# that keeps the others' order).
MAX_ORDER = 32
WORD = 100       # the current word (letters, case-folded, and bytes >= 128) with the last byte
WORD_PAIR = 101  # the current word with the previous word
WORD_SKIP = 102  # the current word with the word before the previous one (kernel 3 on)
WORD_TRIPLE = 103  # the current word with the previous two (kernel 4 on)
COLUMN = 104     # the byte above (same column of the previous line), the column and the last byte
RECORD = 105     # the bytes one and two records back (record length detected from repeats), the length
IMAGE = 106      # per bit, the pixels around it one and two records back and the last ones (a bitmap's 2-D context)
KINDS = {**{str(o): o for o in range(1, MAX_ORDER + 1)}, "word": WORD, "word_pair": WORD_PAIR,
         "word_skip": WORD_SKIP, "word_triple": WORD_TRIPLE, "column": COLUMN, "record": RECORD,
         "image": IMAGE}  # JSON name -> kernel code
FIRST_KERNEL = {"word_skip": 3, "word_triple": 4}  # the kinds an older kernel does not have: the first that does
MAX_CONTEXTS = 16  # at most this many hashed context kinds

MAX_STATE_BYTES = 1 << 30  # a reader refuses parameters whose tables need more
KERNELS = (2, 3, 4)  # the cm kernels this version codes with (MixParams.kernel); 4 is written


@dataclass(frozen=True)
class MixParams:
    """Model sizes and rates. Stored in the archive (as `to_dict()`); defaults are the tuned ones."""
    hash_bits: int = 24          # log2 of the hashed context slots (4 bytes each)
    match_bits: int = 22         # log2 of the match table buckets (2 positions of 4 bytes each)
    match_min: int = 8           # bytes of context a match must share (2..8)
    contexts: tuple[str, ...] = ("2", "3", "4", "6", "word", "word_pair", "word_skip", "word_triple", "column",
                                 "record")  # hashed kinds
    limit: int = 255             # counters adapt at rate 1/(n+1.5) with n capped here (1..255: a slot holds 8 bits of n)
    lr: int = 2                  # mixer learning rate (weight step x * err * lr >> 14), after a faster start;
                                 # with kernel 4, 2 codes the first MiB of 8 text files 0.24 % smaller than 6
                                 # (1: the same, 3: 0.20 %, 4: 0.14 %; kennedy.xls, ptt5, DNA, CSV and 3
                                 # small files: 0.03 %)
    apm_rate: int = 6            # APM step 2^-apm_rate
    # Which kernel codes with these parameters: not a member of the archive's "mixer" object but of its
    # coder name ("mix4/..."; sections.MIX_CODERS): 4 is written, 3 (format version 4) and 2 (3) still read.
    kernel: int = 4

    def __post_init__(self):
        object.__setattr__(self, "contexts", tuple(self.contexts))
        checks = {"hash_bits": (12, 28), "match_bits": (8, 26), "match_min": (2, 8),
                  "limit": (1, 255), "lr": (1, 1024), "apm_rate": (1, 15)}
        for name, (lo, hi) in checks.items():
            v = getattr(self, name)
            if type(v) is not int or not lo <= v <= hi:
                raise ValueError(f"MixParams.{name} must be an int in [{lo}, {hi}], got {v!r}")
        if not 1 <= len(self.contexts) <= MAX_CONTEXTS or len(set(self.contexts)) != len(self.contexts) \
                or any(type(c) is not str or c not in KINDS for c in self.contexts):
            raise ValueError(f"MixParams.contexts must be 1..{MAX_CONTEXTS} distinct of {sorted(KINDS)}, "
                             f"got {self.contexts!r}")
        if self.kernel not in KERNELS:
            raise ValueError(f"MixParams.kernel must be one of {KERNELS}, got {self.kernel!r}")
        for kind, first in FIRST_KERNEL.items():
            if self.kernel < first and kind in self.contexts:
                raise ValueError(f"the context kind {kind!r} needs kernel {first}")
        if self.state_bytes() > MAX_STATE_BYTES:
            raise ValueError(f"MixParams need {self.state_bytes()} bytes of tables, over {MAX_STATE_BYTES}")

    def sized_for(self, n_bytes: int) -> MixParams:
        """These parameters with tables no larger than an input of `n_bytes` is likely to fill: a
        byte touches two buckets (16 slots each) per context, new at high orders and mostly seen
        before at low ones (so one bucket a context a byte), and files one match position."""
        slots = 16 * len(self.contexts) * max(1, n_bytes)
        return dataclasses.replace(self, hash_bits=min(self.hash_bits, max(16, (slots - 1).bit_length())),
                                   match_bits=min(self.match_bits, max(12, max(1, n_bytes).bit_length() - 1)))

    def state_bytes(self) -> int:
        """Bytes of the fixed-size tables (the per-file arrays come on top: the bytes and their
        coded-flag bits, 9/8 bytes per byte): hashed slots, match table, APMs, order-0/1 counters,
        state maps, run strength counters (kernel 4 on: 32 a context)."""
        per_context = 256 + (32 if self.kernel >= 4 else 0)
        return 4 * (1 << self.hash_bits) + 8 * (1 << self.match_bits) + 2 * 33 * (256 + 2 * 65536) \
            + 4 * 65792 + 4 * per_context * len(self.contexts)

    def to_dict(self) -> dict:
        """The archive's "mixer" object: every field but `kernel` (the coder's name says it)."""
        d = dataclasses.asdict(self)
        d["contexts"] = list(self.contexts)
        del d["kernel"]
        return d

    @classmethod
    def from_dict(cls, d: dict, kernel: int) -> MixParams:
        """Parameters from an (untrusted) archive dict, coded by `kernel`; ValueError on unknown keys
        or bad values."""
        if not isinstance(d, dict):
            raise ValueError(f"mixer parameters must be a dict, got {type(d).__name__}")  # noqa: TRY004 (archive data)
        names = {f.name for f in dataclasses.fields(cls)} - {"kernel"}
        if set(d) != names:  # all of them: the defaults may change, an archive's meaning must not
            raise ValueError(f"mixer parameters must be exactly {sorted(names)}")
        d = dict(d)
        if "contexts" in d:
            if not isinstance(d["contexts"], (list, tuple)):
                raise ValueError("MixParams.contexts must be a list")
            d["contexts"] = tuple(d["contexts"])
        return cls(**d, kernel=kernel)
