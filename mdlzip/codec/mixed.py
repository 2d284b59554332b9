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
    return encode_lanes(model, data, *lane_layout(len(data), block, lanes), block, params, progress)


def encode_lanes(model: ExactByteGPT, data: bytes, lane_start: np.ndarray, lane_len: np.ndarray, block: int,
                 params: MixParams, progress: bool = False, dataset_block: bool = False) -> bytes:
    """`encode` in the lanes given (non-empty, tiling `data` in order; each lane's chunks start at
    its start), e.g. one lane per record of a dataset's block; `dataset_block`: code it as one
    (FORMAT.md §6.3: the mixers start from the transformer alone, the stream ends short)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    enc = MixEncoder(lane_start, lane_len, params, short_end=dataset_block, trust_model=dataset_block)
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
    return decode_lanes(model, blob, *lane_layout(n_bytes, block, lanes), block, params, progress)


def decode_lanes(model: ExactByteGPT, blob: bytes, lane_start: np.ndarray, lane_len: np.ndarray, block: int,
                 params: MixParams, progress: bool = False, dataset_block: bool = False) -> bytes:
    """Inverse of `encode_lanes`."""
    dec = MixDecoder(blob, lane_start, lane_len, params, short_end=dataset_block, trust_model=dataset_block)
    bar = tqdm(total=int(lane_len.sum()), desc="decoding", unit="B", unit_scale=True, disable=not progress,
               leave=False)
    step = _cpu_steps(model, len(lane_len)) if model.device.type == "cpu" else _torch_steps(model)
    for row, _, lengths in chunk_rows(lane_start, lane_len, block):
        freqs = step(row, None)  # always the rows of the lanes that code a byte at this step
        for t in range(int(lengths.max())):
            live = lengths > t
            decoded = dec.decode_step(row[live], freqs)
            bar.update(len(decoded))
            if t + 1 < int(lengths.max()):
                freqs = step(row[lengths > t + 1], decoded[lengths[live] > t + 1])
    bar.close()
    return dec.output()


def _cpu_steps(model: ExactByteGPT, lanes: int):
    """The model one position at a time in numba (models/exact_numba.py: bit-identical to `model`,
    without torch's per-operation cost, which is most of a small batch's step): `step(rows, None)`
    starts those lanes' chunks and gives their first frequencies, `step(rows, bytes)` the next."""
    from ..models.exact_numba import ExactStepper

    stepper = ExactStepper(model, lanes)

    def step(rows: np.ndarray, symbols: np.ndarray | None) -> np.ndarray:
        if symbols is None:
            stepper.reset(rows)
            return stepper.step(np.full(len(rows), BOS), rows)
        return stepper.step(symbols.astype(np.int64), rows)

    return step


def _torch_steps(model: ExactByteGPT):
    """`_cpu_steps` with the torch model and its key/value cache (on a GPU: the whole batch at once)."""
    state = {}

    def step(rows: np.ndarray, symbols: np.ndarray | None) -> np.ndarray:
        if symbols is None:
            state.update(cache=model.new_cache(len(rows)), rows=rows)
            inputs = torch.full((len(rows), 1), BOS, dtype=torch.long)
        else:  # lanes that ended this chunk stay in the batch (their positions are never read)
            full = np.zeros(len(state["rows"]), np.int64)
            full[np.isin(state["rows"], rows)] = symbols
            inputs = torch.from_numpy(full)[:, None]
        freqs = next_byte_freqs(model, inputs, state["cache"])[:, 0]
        return freqs[np.isin(state["rows"], rows)]

    return step
