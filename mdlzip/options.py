"""The options of the library's calls, each checked where it enters (as `lzma.LZMAFile` does).

`CompressOptions` and `DecompressOptions` are built from the keywords a caller gave; an unknown
keyword is an `UnknownOptionError`, a compression option given for reading (or the reverse) and a
value out of range are an `OptionError`, raised at the call, whatever path the data would take.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, fields

from .errors import OptionError, UnknownOptionError
from .memory import parse_memlimit
from .runtime import check_device, check_threads
from .training.config import TrainConfig, is_real

# The training options a user may set (fields of TrainConfig); each asks for a trained model.
TRAIN_KEYS = ("regularizer", "alpha", "beta", "tolerance", "prelude_frac", "finetune_frac")
LEVEL_WORDS = ("preset", "compresslevel")
SIZES = ("auto", "level")  # how the model's width is chosen (CompressOptions.size)


def _flag(name: str, value, none_ok: bool = False) -> None:
    if not (type(value) is bool or (none_ok and value is None)):
        raise OptionError(f"{name} must be True or False{' or None' if none_ok else ''}, not {value!r}")


def _from_keywords(cls, call: str, keywords: dict, misplaced: frozenset = frozenset()):
    """cls(**keywords), with an error naming the call for a keyword that is not one of its fields
    (an OptionError for one of `misplaced`, the options of the other direction)."""
    names = [f.name for f in fields(cls)]
    for key in keywords:
        if key in names:
            continue
        if key in misplaced:
            raise OptionError(f"{call}: {key!r} is a compression option, not one for decompressing")
        if key in LEVEL_WORDS:  # lzma's and zlib's names for what mdlzip calls the level
            hint = " (the level is the argument after the data: compress(data, 9))"
        else:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; options: {', '.join(names)}"
        raise UnknownOptionError(f"{call}: unknown option {key!r}{hint}")
    return cls(**keywords)


@dataclass(frozen=True)
class DecompressOptions:
    """Decompression: where the model (if any) runs, the memory it may take, and progress."""

    device: str = "auto"  # auto (CUDA when present), cpu, cuda or cuda:N; never changes the bytes
    threads: int | None = None  # torch threads: None = torch's default, 0 = all cores
    progress: bool = False  # tqdm bars on stderr
    memlimit: int | str | None = None  # bytes decoding may allocate: None = memory.DEFAULT_MEMLIMIT
    # (4 GiB), 0 = no limit, or a size such as "512MiB", "8GiB", "50%" (of physical memory); held as bytes
    model_file: bytes | None = None  # the .mdlm file an archive was coded with (compress -M), if it was

    def __post_init__(self):
        object.__setattr__(self, "memlimit", parse_memlimit(self.memlimit))
        if self.model_file is not None and not isinstance(self.model_file, (bytes, bytearray)):
            raise OptionError(f"model_file must be the model file's bytes, not {type(self.model_file).__name__}")
        check_device(self.device)
        check_threads(self.threads)
        _flag("progress", self.progress)

    @classmethod
    def from_keywords(cls, call: str, keywords: dict) -> DecompressOptions:
        compressing = {f.name for f in fields(CompressOptions)} | {"level"}
        return _from_keywords(cls, call, keywords, frozenset(compressing))


@dataclass(frozen=True)
class CompressOptions:
    """Compression: the model, its training, and what competes for the archive."""

    device: str = "auto"  # where a model trains and codes: auto, cpu, cuda, cuda:N
    threads: int | None = None  # torch threads: None = torch's default, 0 = all cores
    progress: bool = False  # tqdm bars on stderr
    fallback: bool = True  # stored, zstd and xz compete with the model methods; the smallest is written
    verify: bool = False  # decode the archive once as a self-check
    pure: bool = False  # the seed's pure two-part code (method neural): the transformer alone
    model: bool | None = None  # train the transformer and mix it in: None = where the level says,
    # or where a model option below asks for one; False with a model option is an error
    lump_eps: float | None = None  # lump MLP neurons equal within this L1 tolerance (>= 0)
    regularizer: str | None = None  # sparsity method (training.config.REGULARIZERS); None: the level's
    alpha: float | str | None = None  # penalty strength (>= 0) or "auto" (chosen by description length)
    beta: float | None = None  # DRR sharpness (> 0)
    tolerance: float | None = None  # TAMADE: relative training-loss increase allowed (>= 0)
    prelude_frac: float | None = None  # fraction of the steps before regularizing
    finetune_frac: float | None = None  # fraction of the steps after pruning
    size: str = "auto"  # the model's width where one is trained: "auto" (the smallest measured total of
    # the level's width, its half and its quarter, training/size.py) or "level" (the level's)
    time_budget: float | None = None  # seconds the compression may take on a 2-core machine (> 0), model
    # included: it caps the training steps (levels.settings); None = the level's budget per MB

    def __post_init__(self):
        check_device(self.device)
        check_threads(self.threads)
        for name in ("progress", "fallback", "verify", "pure"):
            _flag(name, getattr(self, name))
        _flag("model", self.model, none_ok=True)
        if self.lump_eps is not None and not (is_real(self.lump_eps) and self.lump_eps >= 0):
            raise OptionError(f"lump_eps must be a number >= 0, not {self.lump_eps!r}")
        if self.alpha is not None and self.alpha != "auto" and not (is_real(self.alpha) and self.alpha >= 0):
            raise OptionError(f"alpha must be a number >= 0 or 'auto', not {self.alpha!r}")
        if self.size not in SIZES:
            raise OptionError(f"size must be one of {', '.join(SIZES)}, not {self.size!r}")
        if self.time_budget is not None and not (is_real(self.time_budget) and self.time_budget > 0):
            raise OptionError(f"time_budget must be a number of seconds > 0, not {self.time_budget!r}")
        TrainConfig(**self.train_overrides())  # checks every training value now, not after the data
        given = self.model_options()
        if self.model is False and (self.pure or given):
            raise OptionError(f"model=False, but {'pure' if self.pure else given[0]} needs a trained model")

    def train_overrides(self) -> dict:
        """The TrainConfig fields given (alpha="auto" is chosen later, by the pipeline)."""
        return {k: getattr(self, k) for k in TRAIN_KEYS if getattr(self, k) is not None and getattr(self, k) != "auto"}

    def model_options(self) -> list[str]:
        """The options given that only a trained model can use."""
        return [k for k in (*TRAIN_KEYS, "lump_eps") if getattr(self, k) is not None]

    def with_model(self, level_trains: bool) -> bool:
        """Whether to train the transformer for mixing: asked for, implied by a model option, or the level's."""
        return self.model if self.model is not None else bool(self.model_options()) or level_trains

    @classmethod
    def from_keywords(cls, call: str, keywords: dict) -> CompressOptions:
        return _from_keywords(cls, call, keywords)

