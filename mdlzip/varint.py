"""Unsigned LEB128 integers, the one varint of the format (container header, weights headers)."""
from __future__ import annotations

from .errors import FormatError, TruncatedError

MAX_BITS = 64  # no field of the format needs more; a longer varint is corrupt


def encode(n: int) -> bytes:
    """Seven bits per byte, least significant first; the high bit says another byte follows."""
    if n < 0:
        raise ValueError(f"varint of a negative number ({n})")
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def decode(buf: bytes, pos: int, end: int, where: str) -> tuple[int, int]:
    """(value, position after it) of the varint at buf[pos:end]; `where` names the field's place
    in the error: TruncatedError if it runs past `end`, FormatError if it is longer than 64 bits."""
    n = shift = 0
    while True:
        if pos >= end:
            raise TruncatedError(f"archive is truncated (inside {where})")
        byte = buf[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return n, pos
        shift += 7
        if shift >= MAX_BITS:
            raise FormatError(f"{where} is corrupt (integer too long)")
