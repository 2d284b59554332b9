"""mdlzip: lossless compression by the Minimum Description Length principle.

A sparse byte-level transformer is trained on the input and stored with it; the bytes are
range-coded under the stored model with integer-exact inference, so any machine decodes them.

    >>> import mdlzip
    >>> archive = mdlzip.compress(b"hello " * 100)
    >>> mdlzip.decompress(archive)[:5]
    b'hello'
"""
from .api import ArchiveInfo, Report, compress, compress_with_report, decompress, info
from .config import DEFAULT_LEVEL, PRESETS
from .container import FORMAT_VERSION
from .errors import (
           ChecksumError,
           FormatError,
           MdlzipError,
           TruncatedError,
           UnsupportedVersionError,
)
from .file import MdlzFile, open
from .prequential import prequential_code_length

__version__ = "0.1.0"
__all__ = ["compress", "compress_with_report", "decompress", "info", "open", "MdlzFile", "ArchiveInfo", "Report",
           "MdlzipError", "FormatError", "TruncatedError", "ChecksumError", "UnsupportedVersionError",
           "DEFAULT_LEVEL", "PRESETS", "FORMAT_VERSION", "__version__",
           "prequential_code_length"]
