"""Classical codings an archive may fall back to, and the xz reference of the MDL report."""
from __future__ import annotations

import lzma
from collections.abc import Callable

import zstandard

from .container import Method
from .errors import FormatError

ZSTD_LEVEL = 19
XZ_PRESET = 9 | lzma.PRESET_EXTREME
# The most original bytes one payload byte can hold, so a larger declared size is corrupt:
# zstd: a block yields at most 128 KiB and takes at least 4 bytes (an RLE block): 2^15.
# LZMA2: at its probability cap (2017/2048) a 273-byte match costs >= 14 * 0.022 bits, and every
# 2 MiB chunk adds a header: < 7,100 (measured: 6,666 on 16 MiB of zeros). STORED: exactly 1.
EXPANSION = {Method.STORED: 1, Method.ZSTD: 1 << 15, Method.XZ: 1 << 13}


PIECE = 1 << 18  # bytes fed to a compressor per call, so Ctrl-C is honoured between calls


def _outputs(compressor, data: bytes, bar=None):
    """What `compressor` (an lzma or zstd compressobj) makes of `data`, fed piece by piece, as it
    comes: the same bytes as a one-shot call, but Python regains control (and sees Ctrl-C) every
    piece, and `bar` (a tqdm bar, or None) advances by each piece's bytes."""
    view = memoryview(data)
    for i in range(0, len(data), PIECE):
        yield compressor.compress(view[i:i + PIECE])
        if bar is not None:
            bar.update(len(view[i:i + PIECE]))
    yield compressor.flush()


def _feed(compressor, data: bytes, bar=None) -> bytes:
    return b"".join(_outputs(compressor, data, bar))


def _lzma2_filters(n_bytes: int) -> list[dict]:
    """Raw LZMA2 at preset 9e, its dictionary no larger than the input (both sides know the size)."""
    return [{"id": lzma.FILTER_LZMA2, "preset": XZ_PRESET, "dict_size": min(max(n_bytes, 4096), 1 << 26)}]


def _zstd_decode(blob: bytes, n_bytes: int) -> bytes:
    return zstandard.ZstdDecompressor().decompress(blob, max_output_size=n_bytes) if n_bytes else b""


ENCODERS: dict[Method, Callable[..., bytes]] = {  # (data, bar=None) -> payload
    Method.STORED: lambda d, bar=None: d,  # the input itself: container.pieces writes it without a copy
    Method.ZSTD: lambda d, bar=None: _feed(zstandard.ZstdCompressor(
        level=ZSTD_LEVEL, write_checksum=False, write_content_size=False).compressobj(size=len(d)), d, bar),
    Method.XZ: lambda d, bar=None: _feed(lzma.LZMACompressor(lzma.FORMAT_RAW, filters=_lzma2_filters(len(d))), d, bar),
}
DECODERS: dict[Method, Callable[[bytes, int], bytes]] = {
    Method.STORED: lambda blob, n: blob,
    Method.ZSTD: _zstd_decode,
    Method.XZ: lambda blob, n: lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=_lzma2_filters(n)).decompress(blob, n),
}


def check_size(method: Method, blob: bytes, n_bytes: int) -> None:
    """The declared size must fit what the payload can hold (STORED: be its length)."""
    if n_bytes > EXPANSION[method] * len(blob) or (method == Method.STORED and n_bytes != len(blob)):
        raise FormatError(f"{method.name.lower()} payload is {'too short' if n_bytes > len(blob) else 'too long'} "
                          "for the original size")


def decode(method: Method, blob: bytes, n_bytes: int) -> bytes:
    try:
        return DECODERS[method](blob, n_bytes)
    except (lzma.LZMAError, zstandard.ZstdError) as exc:
        raise FormatError(f"{method.name.lower()} payload is corrupt ({exc})") from None


def xz_size(data: bytes, bar=None) -> int:
    """Bytes of `xz -9e` on the whole input (the .xz file a user would get), counted as they come."""
    return sum(map(len, _outputs(lzma.LZMACompressor(lzma.FORMAT_XZ, preset=XZ_PRESET), data, bar)))
