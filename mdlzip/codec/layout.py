"""How the input is cut for coding: chunks of the model's context, streams of chunks, lanes.

- A **chunk** is `block` consecutive bytes (the last may be shorter): the transformer's context
  restarts at every chunk, so each chunk is one independent row of the model.
- The pure two-part code (NEURAL) range-codes `STREAM_GROUP` chunks per **stream**.
- The mixed coder (MIXED) deals the chunks in contiguous runs to **lanes** that advance in
  lockstep (`lane_layout`); `chunk_rows` gives the model's batches, chunk k of every lane.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

STREAM_GROUP = 64  # chunks per range-coded stream of the NEURAL method (stored in its config)
DECODE_BATCH = 1024  # chunks the NEURAL decoder holds at once where memory allows (speed only)


def chunk_lengths(n_bytes: int, block: int) -> np.ndarray:
    """Lengths of the chunks of an input of n_bytes: all `block` but possibly the last."""
    return np.minimum(block, n_bytes - block * np.arange(-(-n_bytes // block)))


def split_chunks(data: bytes | np.ndarray, block: int, pad: int = 0) -> np.ndarray:
    """Bytes -> (N, block) int64 chunks, the last padded with `pad`."""
    arr = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray)) else data
    padded = np.full(-(-len(arr) // block) * block, pad, dtype=np.int64)
    padded[:len(arr)] = arr
    return padded.reshape(-1, block)


def file_chunks(n_bytes: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts, lengths) of the chunks of one input cut every `block` bytes."""
    lengths = chunk_lengths(n_bytes, block)
    return np.arange(len(lengths), dtype=np.int64) * block, lengths


def starts_of(lengths: np.ndarray) -> np.ndarray:
    """Where each of consecutive runs of these lengths starts (int64): 0, then the running sums."""
    return np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(lengths) else np.zeros(0, np.int64)


def lane_chunks(lane_start: np.ndarray, lane_len: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts, lengths) of every chunk of the lanes given: each lane cut every `block` bytes from its
    start (a dataset's records are its lanes, so a chunk never spans two records)."""
    counts = -(-np.asarray(lane_len, np.int64) // block)
    first = np.repeat(np.asarray(lane_start, np.int64), counts)
    k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)  # chunk number in its lane
    return first + k * block, np.minimum(block, np.repeat(lane_len, counts) - k * block)


def gather_chunks(arr: np.ndarray, starts: np.ndarray, lengths: np.ndarray, block: int, pad: int) -> np.ndarray:
    """(N, block) int64 chunks of `arr` at `starts` of `lengths`, each padded with `pad`."""
    pos = np.arange(block)[None, :]
    out = arr[np.minimum(starts[:, None] + pos, len(arr) - 1)].astype(np.int64)
    out[pos >= lengths[:, None]] = pad
    return out


def stream_slices(n_bytes: int, block: int, group: int) -> Iterator[tuple[int, int]]:
    """(first byte, end byte) of each NEURAL stream."""
    span = block * group
    for start in range(0, n_bytes, span):
        yield start, min(n_bytes, start + span)


def lane_layout(n_bytes: int, block: int, n_lanes: int) -> tuple[np.ndarray, np.ndarray]:
    """(lane_start, lane_len): chunks of `block` bytes dealt in contiguous runs to
    L = min(n_lanes, n_chunks) lanes, the first n_chunks % L lanes one chunk more."""
    if n_bytes < 0 or block < 1 or n_lanes < 1:
        raise ValueError("need n_bytes >= 0, block >= 1, n_lanes >= 1")
    n_chunks = -(-n_bytes // block)
    n_l = min(n_lanes, n_chunks)
    if n_l == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    chunks = np.full(n_l, n_chunks // n_l, np.int64)
    chunks[:n_chunks % n_l] += 1
    start = np.concatenate([[0], np.cumsum(chunks)[:-1]]) * block
    return start, np.minimum(chunks * block, n_bytes - start)


def chunk_rows(lane_start: np.ndarray, lane_len: np.ndarray, block: int):
    """For each chunk row k: (lanes that have a chunk k, their chunk starts, their chunk lengths)."""
    for k in range(-(-int(lane_len.max()) // block)):
        lanes = np.flatnonzero(lane_len > k * block)
        yield lanes, lane_start[lanes] + k * block, np.minimum(block, lane_len[lanes] - k * block)
