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
from .api import ArchiveInfo, Report, compress, compress_with_report, decompress, info
from .container import FORMAT_VERSION
from .errors import (
           ChecksumError,
           DeviceError,
           FormatError,
           MdlzipError,
           MemoryLimitError,
           OptionError,
           OutOfMemoryError,
           TruncatedError,
           UnknownOptionError,
           UnsupportedVersionError,
)
from .file import MdlzFile, open
from .levels import DEFAULT_LEVEL, LEVELS

__version__ = "0.1.0"
__all__ = ["compress", "compress_with_report", "decompress", "info", "open", "MdlzFile", "ArchiveInfo", "Report",
           "MdlzipError", "FormatError", "TruncatedError", "ChecksumError", "UnsupportedVersionError",
           "OptionError", "UnknownOptionError", "DeviceError", "MemoryLimitError", "OutOfMemoryError", "DEFAULT_LEVEL", "LEVELS", "FORMAT_VERSION",
           "__version__"]
