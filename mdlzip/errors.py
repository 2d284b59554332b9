"""One error hierarchy for the library and the CLI (shaped like ``lzma.LZMAError``)."""


class MdlzipError(Exception):
    """Base class of every error mdlzip raises on bad input or a bad archive."""


class FormatError(MdlzipError):
    """The bytes are not a valid .mdlz archive (bad magic, reserved bits, sizes, CRC)."""


class TruncatedError(FormatError, EOFError):
    """The archive ended before its end marker."""


class ChecksumError(FormatError):
    """A stored checksum does not match the data it covers."""


class UnsupportedVersionError(FormatError):
    """The archive was written by a newer format version than this mdlzip reads."""
