"""`mdlzip.open` and `MdlzFile`, in the manner of `lzma.open` / `LZMAFile`.

A model is trained on the whole input, so writing buffers everything and compresses on close,
and reading decodes the whole archive on the first read. The options are checked when the file
is opened: the keywords of `mdlzip.compress` for writing, of `mdlzip.decompress` for reading.
Appending ("ab") adds a whole archive after those in the file; reading decodes them all, one after
the other (as xz reads concatenated streams).
"""
from __future__ import annotations

import builtins
import io
import os
from typing import IO

from .api import compress, decompress
from .errors import OptionError
from .levels import DEFAULT_LEVEL, check_level
from .options import CompressOptions, DecompressOptions

_MODES = {"r": "rb", "rb": "rb", "w": "wb", "wb": "wb", "x": "xb", "xb": "xb", "a": "ab", "ab": "ab"}


class MdlzFile(io.BufferedIOBase):
    """A binary file object over one .mdlz archive (a path or an open binary file)."""

    def __init__(self, filename: str | bytes | os.PathLike | IO[bytes], mode: str = "rb", *,
                 level: int | None = None, **options):
        if mode not in _MODES:
            raise ValueError(f"Invalid mode: {mode!r}")
        self._mode = _MODES[mode]
        if self._mode == "rb":
            if level is not None:
                raise OptionError(f"open: 'level' is a compression option, not for mode {mode!r}")
            DecompressOptions.from_keywords(f"open({mode!r})", options)
        else:
            level = check_level(DEFAULT_LEVEL if level is None else level, classical=True)
            CompressOptions.from_keywords(f"open({mode!r})", options)
        self._level, self._options = level, options
        if hasattr(filename, "read") or hasattr(filename, "write"):
            self._fp, self._own = filename, False
        else:
            self._fp, self._own = builtins.open(filename, self._mode), True
        self._buffer: io.BytesIO | None = None if self.readable() else io.BytesIO()

    def readable(self) -> bool:
        return self._mode == "rb"

    def writable(self) -> bool:
        return self._mode != "rb"

    def _check(self, reading: bool) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        if reading != self.readable():
            raise io.UnsupportedOperation(f"File not open for {'reading' if reading else 'writing'}")

    def _decoded(self) -> io.BytesIO:
        if self._buffer is None:
            self._buffer = io.BytesIO(decompress(self._fp.read(), **self._options))
        return self._buffer

    def read(self, size: int | None = -1) -> bytes:
        self._check(reading=True)
        return self._decoded().read(size)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, b) -> int:
        self._check(reading=True)
        return self._decoded().readinto(b)

    def write(self, data) -> int:
        self._check(reading=False)
        return self._buffer.write(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self.writable():
                self._fp.write(compress(self._buffer.getvalue(), self._level, **self._options))
        finally:
            if self._own:
                self._fp.close()
            super().close()


def open(filename, mode: str = "rb", *, encoding: str | None = None, errors: str | None = None,
         newline: str | None = None, **options) -> MdlzFile | io.TextIOWrapper:
    """Open an .mdlz archive in binary ("rb", "wb", "xb", "ab") or text ("rt", "wt", "xt", "at") mode."""
    if "t" in mode:
        if "b" in mode:
            raise ValueError(f"Invalid mode: {mode!r}")
        return io.TextIOWrapper(MdlzFile(filename, mode.replace("t", ""), **options), encoding, errors, newline)
    if encoding is not None or errors is not None or newline is not None:
        raise ValueError("Argument 'encoding', 'errors' or 'newline' not supported in binary mode")
    return MdlzFile(filename, mode, **options)
