"""Range coding of the bytes under the exact model (method NEURAL), in independent streams.

The input is cut into chunks of the model's context length and the chunks into streams of
`group` chunks (codec/layout.py); a stream codes its chunks in time-major order (position 0 of
every chunk, then position 1, ...), so the decoder advances all chunks of all streams it holds by
one byte per model call. `next_byte_freqs` is the one function that gives both encoder and
decoder (and the mixed coder) their distributions. The coded data is the streams, each as a u32
word count and its words, little-endian.
"""
from __future__ import annotations

import math
import struct

import constriction
import numpy as np
import torch
from tqdm import tqdm

from ..errors import FormatError, TruncatedError
from ..models.exact import ExactByteGPT, chunk_inputs
from ..models.transformer import BOS
from .layout import DECODE_BATCH, chunk_lengths, split_chunks, stream_slices

FAMILY = constriction.stream.model.Categorical(perfect=False)
ENCODE_BATCH = 8  # chunks per full-sequence pass of the encoder (speed only; results are exact)


def next_byte_freqs(model: ExactByteGPT, inputs: torch.Tensor, cache: dict) -> np.ndarray:
    """Integer frequencies (B, n, 256) as float64 for the n positions after the cache's context."""
    return model.forward(inputs.to(model.device), cache).cpu().numpy()


def chunk_freqs(model: ExactByteGPT, chunks: torch.Tensor) -> np.ndarray:
    """(N, T, 256) frequencies of every position of whole chunks, each from its start-of-chunk token;
    small sub-batches keep the attention in cache."""
    inputs = chunk_inputs(chunks)
    return np.concatenate([next_byte_freqs(model, inputs[i:i + ENCODE_BATCH], model.new_cache(len(inputs[i:i + ENCODE_BATCH])))
                           for i in range(0, len(inputs), ENCODE_BATCH)])


def encode(model: ExactByteGPT, data: bytes, group: int, progress: bool = False) -> bytes:
    """The coded data of `data` (its length is the DATA section's, the data term of the MDL)."""
    block, arr = model.cfg.block_size, np.frombuffer(data, dtype=np.uint8)
    streams = []
    slices = list(stream_slices(len(data), block, group))
    for start, end in tqdm(slices, desc="coding", unit="stream", disable=not progress, leave=False):
        chunks, lengths = split_chunks(arr[start:end], block), chunk_lengths(end - start, block)
        freqs = chunk_freqs(model, torch.from_numpy(chunks))  # (G, T, 256)
        valid = np.arange(block)[:, None] < lengths[None, :]  # (T, G) time-major
        symbols = chunks.T[valid].astype(np.int32)
        encoder = constriction.stream.queue.RangeEncoder()
        encoder.encode(symbols, FAMILY, freqs.transpose(1, 0, 2)[valid])
        streams.append(encoder.get_compressed())
    return _pack_streams(streams)


def decode(model: ExactByteGPT, blob: bytes, n_bytes: int, group: int,
           batch_chunks: int = DECODE_BATCH, progress: bool = False) -> bytes:
    """Inverse of `encode`. `batch_chunks` only trades memory for speed; the output never depends on it."""
    block = model.cfg.block_size
    slices = list(stream_slices(n_bytes, block, group))
    if 4 * len(slices) > len(blob):
        raise FormatError("coded data is too short for the original size")
    streams = _unpack_streams(blob, len(slices))
    per_batch = max(1, batch_chunks // group)
    out = np.zeros(n_bytes, dtype=np.uint8)
    bar = tqdm(total=n_bytes, desc="decoding", unit="B", unit_scale=True, disable=not progress, leave=False)
    for b0 in range(0, len(slices), per_batch):
        members = slices[b0:b0 + per_batch]
        decoders = [constriction.stream.queue.RangeDecoder(s) for s in streams[b0:b0 + per_batch]]
        lengths = [chunk_lengths(end - start, block) for start, end in members]
        rows = np.cumsum([0] + [len(x) for x in lengths])
        all_lengths = np.concatenate(lengths)
        decoded = torch.zeros(rows[-1], block, dtype=torch.long)
        cache = model.new_cache(rows[-1])
        inputs = torch.full((rows[-1], 1), BOS, dtype=torch.long)
        for t in range(int(all_lengths.max())):
            freqs = next_byte_freqs(model, inputs, cache)[:, 0]  # (rows, 256)
            for j, dec in enumerate(decoders):
                live = np.flatnonzero(lengths[j] > t) + rows[j]
                if len(live):
                    decoded[live, t] = torch.from_numpy(_decode(dec, freqs[live]).astype(np.int64))
            inputs = decoded[:, t:t + 1]
            bar.update(int((all_lengths > t).sum()))
        for (start, end), r0 in zip(members, rows):
            out[start:end] = decoded[r0:r0 + math.ceil((end - start) / block)].flatten()[:end - start].numpy()
    bar.close()
    return out.tobytes()


def _decode(decoder, freqs: np.ndarray) -> np.ndarray:
    try:
        return decoder.decode(FAMILY, freqs)
    except Exception as exc:  # constriction reports exhausted or invalid input as a generic error
        raise FormatError(f"coded data is corrupt ({exc})") from None


def _pack_streams(streams: list[np.ndarray]) -> bytes:
    """Each stream as u32 word count + its words, little-endian."""
    return b"".join(struct.pack("<I", len(s)) + s.astype("<u4").tobytes() for s in streams)


def _unpack_streams(blob: bytes, count: int) -> list[np.ndarray]:
    streams, pos = [], 0
    for _ in range(count):
        if pos + 4 > len(blob):
            raise TruncatedError("coded data ends inside a stream header")
        (n,) = struct.unpack_from("<I", blob, pos)
        pos += 4
        if n * 4 > len(blob) - pos:
            raise TruncatedError("coded stream is longer than the data left")
        streams.append(np.frombuffer(blob, dtype="<u4", count=n, offset=pos).astype(np.uint32))
        pos += 4 * n
    if pos != len(blob):
        raise FormatError("trailing bytes after the coded streams")
    return streams
