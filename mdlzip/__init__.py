"""mdlzip: lossless compression by the Minimum Description Length principle.

The default codes a file with adaptive context-mixing statistics (method cm): below 16 MiB at
levels 1-6 a stored model has been measured to cost more than it saves. Where a model pays or is
asked for (-7 ... -9, ``model=True``, a model option), a sparse byte-level transformer is trained on
the input, stored with it, and mixed with those statistics (method mixed); ``pure=True`` codes
under the transformer alone (the seed's two-part code). Every coding model is integer-exact, so
any machine decodes the archive to the same bytes. Importing mdlzip does not import torch.

    >>> import mdlzip
    >>> archive = mdlzip.compress(b"hello " * 100)
    >>> mdlzip.decompress(archive)[:5]
    b'hello'
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Every name is imported on first use, so that `import mdlzip` runs no other module: the command's
# start-up, where Ctrl-C must exit quietly (__main__.run), has no window outside its guard but the
# interpreter's own. numpy and the codecs come with the first call.
_ERRORS = ("MdlzipError", "FormatError", "TruncatedError", "ChecksumError", "UnsupportedVersionError", "OptionError",
           "UnknownOptionError", "DeviceError", "MemoryLimitError", "OutOfMemoryError", "ModelFileError")
_LAZY = {**dict.fromkeys(_ERRORS, "errors"), "compress": "api", "compress_with_report": "api", "decompress": "api",
         "info": "api", "info_all": "api", "ArchiveInfo": "api", "Report": "api", "open": "file", "MdlzFile": "file",
         "DEFAULT_LEVEL": "levels", "LEVELS": "levels", "FORMAT_VERSION": "container",
         "compress_dataset": "dataset", "compress_dataset_with_report": "dataset", "open_dataset": "dataset",
         "Dataset": "dataset", "train_model": "dataset", "list_members": "api", "RecordDataset": "torch_dataset"}
if TYPE_CHECKING:
    from .api import ArchiveInfo, Report, compress, compress_with_report, decompress, info, info_all, list_members
    from .container import FORMAT_VERSION
    from .dataset import Dataset, compress_dataset, compress_dataset_with_report, open_dataset, train_model
    from .errors import (
        ChecksumError,
        DeviceError,
        FormatError,
        MdlzipError,
        MemoryLimitError,
        ModelFileError,
        OptionError,
        OutOfMemoryError,
        TruncatedError,
        UnknownOptionError,
        UnsupportedVersionError,
    )
    from .file import MdlzFile, open
    from .torch_dataset import RecordDataset
    from .levels import DEFAULT_LEVEL, LEVELS


def __getattr__(name: str):
    if name == "__version__":  # the installed distribution's, as pyproject.toml gives it
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("mdlzip")
        except PackageNotFoundError:  # run from a source tree that was never installed
            return "0+unknown"
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["compress", "compress_with_report", "decompress", "info", "info_all", "list_members", "open", "MdlzFile",
           "ArchiveInfo", "compress_dataset", "compress_dataset_with_report", "open_dataset", "Dataset", "train_model", "RecordDataset",
           "Report", *_ERRORS, "DEFAULT_LEVEL", "LEVELS", "FORMAT_VERSION", "__version__"]
