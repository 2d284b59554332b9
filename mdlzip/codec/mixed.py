"""Mixed coding (method MIXED): the transformer's next-byte distribution mixed with adaptive
statistics (mixer.py). The adaptive statistics alone (method CM) need no model and no torch:
`mixer.encode_adaptive`.

The input is cut into chunks of the model's context length and the chunks into `lanes`
contiguous runs (`layout.lane_layout`). All lanes advance in lockstep, one byte per step, lane
order within a step; the transformer restarts its context at every chunk boundary, which falls
on the same step in every lane, so a "chunk row" (chunk k of every lane) is one batch for the
model. Encoder and decoder take their model distributions from `arith.next_byte_freqs` and
share the adaptive state through the one coder in `mixer`, in exactly this order.
"""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from ..models.exact import ExactByteGPT
from ..models.transformer import BOS
from .arith import chunk_freqs, next_byte_freqs
from .cm_params import MixParams
from .layout import chunk_rows, lane_layout
from .mixer import MixDecoder, MixEncoder


def encode(model: ExactByteGPT, data: bytes, block: int, lanes: int, params: MixParams,
           progress: bool = False) -> bytes:
    """Code `data` with the mixing coder under `model`."""
    if not data:
        return b""
    arr = np.frombuffer(data, dtype=np.uint8)
    lane_start, lane_len = lane_layout(len(arr), block, lanes)
    enc = MixEncoder(lane_start, lane_len, params)
    bar = tqdm(total=len(arr), desc="coding", unit="B", unit_scale=True, disable=not progress, leave=False)
    for row, starts, lengths in chunk_rows(lane_start, lane_len, block):
        idx = starts[:, None] + np.minimum(np.arange(block)[None, :], lengths[:, None] - 1)
        chunks = torch.from_numpy(arr[idx].astype(np.int64))  # short chunks repeat their last byte (never coded)
        freqs = chunk_freqs(model, chunks)
        symbols = chunks.numpy().astype(np.uint8)
        for t in range(int(lengths.max())):
            live = lengths > t
            enc.encode_step(row[live], freqs[live, t], symbols[live, t])
        bar.update(int(lengths.sum()))
    bar.close()
    return enc.finish()


def decode(model: ExactByteGPT, blob: bytes, n_bytes: int, block: int, lanes: int, params: MixParams,
           progress: bool = False) -> bytes:
    """Inverse of `encode`."""
    if n_bytes == 0:
        return b""
    lane_start, lane_len = lane_layout(n_bytes, block, lanes)
    dec = MixDecoder(blob, lane_start, lane_len, params)
    bar = tqdm(total=n_bytes, desc="decoding", unit="B", unit_scale=True, disable=not progress, leave=False)
    for row, _, lengths in chunk_rows(lane_start, lane_len, block):
        cache = model.new_cache(len(row))
        inputs = torch.full((len(row), 1), BOS, dtype=torch.long)
        for t in range(int(lengths.max())):
            live = lengths > t
            freqs = next_byte_freqs(model, inputs, cache)[:, 0]
            decoded = np.zeros(len(row), dtype=np.int64)
            decoded[live] = dec.decode_step(row[live], freqs[live])
            inputs = torch.from_numpy(decoded)[:, None]
            bar.update(int(live.sum()))
    bar.close()
    return dec.output()
