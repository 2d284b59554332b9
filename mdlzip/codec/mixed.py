"""Mixed coding (method MIXED): the transformer's next-byte distribution mixed with adaptive
statistics (mixer.py). The adaptive statistics alone (method CM) need no model and no torch:
`mixer.encode_adaptive`.

The input is cut into chunks of the model's context length and the chunks into `lanes`
contiguous runs (`layout.lane_layout`). All lanes advance in lockstep, one byte per step, lane
order within a step; the transformer restarts its context at every chunk boundary, which falls
on the same step in every lane, so a "chunk row" (chunk k of every lane) is one batch for the
model. Encoder and decoder take their model distributions on the CPU from the batched stepper where
many lanes step (models/exact_batched.py: one matrix product per step for all lanes), else from
the numba stepper (models/exact_numba.py, stepped with the coder in one call: model_kernel.py),
and on a device from `arith.next_byte_freqs`, bit-identical every way, and share the adaptive state
through the one coder in `mixer`, in exactly this order.
"""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from ..models.exact import ExactByteGPT
from ..models.transformer import BOS
from .arith import chunk_freqs, next_byte_freqs
from .cm_params import MixParams
from .layout import chunk_rows, lane_layout, starts_of
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
    if _batched(model, lane_len):
        _code_batched(enc, model, arr, block, bar)
    elif _numba_steps(model):
        enc.run_steps(_model_steps(enc, model, arr, block), bar)
    else:  # the whole chunk row at once on the device, its frequencies handed to the coder step by step
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
    if _batched(model, lane_len):
        _code_batched(dec, model, None, block, bar)
    elif _numba_steps(model):
        dec.run_steps(_model_steps(dec, model, dec.state.data, block), bar)
    else:  # the torch model with its key/value cache, the whole chunk row per call
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


def _numba_steps(model: ExactByteGPT) -> bool:
    """Whether the model runs in numba (on the CPU) rather than torch (on its device)."""
    return model.device.type == "cpu"


def _batched(model: ExactByteGPT, lane_len: np.ndarray) -> bool:
    """Whether enough lanes step on the CPU for one matrix product per step to pay (exact_batched)."""
    from ..models.exact_batched import BATCH_MIN

    return _numba_steps(model) and len(lane_len) >= BATCH_MIN


def _code_batched(coder: MixEncoder | MixDecoder, model: ExactByteGPT, src: np.ndarray | None, block: int,
                  bar: tqdm) -> None:
    """Every step on the CPU with the batched stepper: the lanes with a byte left get the model's
    frequencies (each lane's chunk restarts every `block` bytes: BOS first, then the lane's previous
    byte), then the coder codes them in lane order. `src`: the bytes to encode (None: decode).
    (Coding half the lanes on a second thread beside the model's step for the other half was
    measured slower on 2 cores: the model's products and attention already use both.)"""
    from ..models.exact_batched import BatchedStepper

    stepper, lane_len = BatchedStepper(model, len(coder.lane_len)), coder.lane_len
    lane_start, last = starts_of(lane_len), np.zeros(len(lane_len), np.int64)
    for step in range(int(lane_len.max())):
        rows = np.flatnonzero(lane_len > step)
        if step % block == 0:  # a new chunk in every lane: the model's context restarts
            stepper.reset(rows)
            freqs = stepper.step(np.full(len(rows), BOS), rows)
        else:
            freqs = stepper.step(last[rows], rows)
        if src is None:
            last[rows] = coder.decode_step(rows, freqs)
        else:
            last[rows] = src[lane_start[rows] + step]
            coder.encode_step(rows, freqs, last[rows])
        bar.update(len(rows))


def _model_steps(coder: MixEncoder | MixDecoder, model: ExactByteGPT, src: np.ndarray, block: int):
    """`coder.run_steps`'s kernel on the CPU: the model one position at a time in numba
    (models/exact_numba.py, bit-identical to `model`) and the coder's steps in the same call
    (model_kernel.py), without torch's per-operation cost or Python's per step."""
    from ..models.exact_numba import ExactStepper
    from .model_kernel import code_model_steps

    n_lanes = len(coder.lane_len)
    arrays, last = ExactStepper(model, n_lanes).kernel_arrays(), np.zeros(n_lanes, np.int64)
    return lambda step, until: code_model_steps(coder.MODE, src, step, until, block, coder.state, last,
                                                coder.overrun, *arrays)
