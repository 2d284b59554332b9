"""Classical codings an archive may fall back to, and the xz reference of the MDL report."""
from __future__ import annotations

import lzma
from collections.abc import Callable

import zstandard

from .container import Method
from .errors import FormatError

ZSTD_LEVEL = 19
XZ_PRESET = 9 | lzma.PRESET_EXTREME


def _lzma2_filters(n_bytes: int) -> list[dict]:
    """Raw LZMA2 at preset 9e, its dictionary no larger than the input (both sides know the size)."""
    return [{"id": lzma.FILTER_LZMA2, "preset": XZ_PRESET, "dict_size": min(max(n_bytes, 4096), 1 << 26)}]


def _zstd_decode(blob: bytes, n_bytes: int) -> bytes:
    return zstandard.ZstdDecompressor().decompress(blob, max_output_size=n_bytes) if n_bytes else b""


ENCODERS: dict[Method, Callable[[bytes], bytes]] = {
    Method.STORED: bytes,
    Method.ZSTD: lambda d: zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=False,
                                                    write_content_size=False).compress(d),
    Method.XZ: lambda d: lzma.compress(d, format=lzma.FORMAT_RAW, filters=_lzma2_filters(len(d))),
}
DECODERS: dict[Method, Callable[[bytes, int], bytes]] = {
    Method.STORED: lambda blob, n: blob,
    Method.ZSTD: _zstd_decode,
    Method.XZ: lambda blob, n: lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=_lzma2_filters(n)).decompress(blob, n),
}


def decode(method: Method, blob: bytes, n_bytes: int) -> bytes:
    try:
        return DECODERS[method](blob, n_bytes)
    except (lzma.LZMAError, zstandard.ZstdError) as exc:
        raise FormatError(f"{method.name.lower()} payload is corrupt ({exc})") from None


def xz_size(data: bytes) -> int:
    """Bytes of `xz -9e` on the whole input (the .xz file a user would get)."""
    return len(lzma.compress(data, format=lzma.FORMAT_XZ, preset=XZ_PRESET))
