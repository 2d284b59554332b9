"""One error hierarchy for the library and the CLI (shaped like ``lzma.LZMAError``)."""


class MdlzipError(Exception):
    """Base class of every error mdlzip raises on bad input, a bad archive or a bad option."""


class FormatError(MdlzipError):
    """The bytes are not a valid .mdlz archive (bad magic, reserved bits, sizes, CRC)."""


class TruncatedError(FormatError, EOFError):
    """The archive ended before its end marker."""


class ChecksumError(FormatError):
    """A stored checksum does not match the data it covers."""


class UnsupportedVersionError(FormatError):
    """The archive was written by a format version (or a coder) this mdlzip does not read: a newer one,
    or an older coder it no longer has."""


class ModelFileError(MdlzipError):
    """An archive coded with an external model file (`-M`) was read without it, or with another one."""


class OptionError(MdlzipError, ValueError):
    """An option's value is out of range, or the option does not apply where it was given."""


class UnknownOptionError(OptionError, TypeError):
    """A keyword that is no option of the call (a TypeError too, as Python raises for one)."""


class DeviceError(MdlzipError):
    """The device cannot run the model: none such here (e.g. --device cuda without a GPU), or out of memory."""


class MemoryLimitError(MdlzipError):
    """Decoding would need more memory than the limit allows (computed from the header, before
    anything is allocated). `needed` and `limit` are in bytes."""

    def __init__(self, message: str, needed: int = 0, limit: int = 0):
        super().__init__(message)
        self.needed, self.limit = needed, limit


class OutOfMemoryError(MdlzipError, MemoryError):
    """An allocation failed while decoding (the machine had less free memory than the limit)."""


class Interrupted(BaseException):
    """Ctrl-C in the `mdlzip` command: raised by its SIGINT handler instead of KeyboardInterrupt,
    which click would turn into "Aborted!" and exit 1 (the command exits 130, one line)."""
