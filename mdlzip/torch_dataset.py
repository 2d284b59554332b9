"""A `torch.utils.data.Dataset` over the records of a multi-member archive, for training loops.

Item i is record i (a uint8 tensor, or what `transform` makes of its bytes), decoded from the
archive when asked for: only its block is decoded. Each DataLoader worker opens the archive by
its path itself, so nothing decoded (nor the model) is pickled to the workers.
"""
from __future__ import annotations

import os
from collections.abc import Callable

import torch
from torch.utils.data import Dataset as TorchDataset

from .dataset import Dataset


class RecordDataset(TorchDataset):
    """`RecordDataset("logs.mdlz")[i]`: record i as a uint8 tensor; `transform` (bytes -> anything)
    replaces that; `options` as for `mdlzip.open_dataset` (device, threads, memlimit, model_file)."""

    def __init__(self, path: str | os.PathLike, transform: Callable[[bytes], object] | None = None, **options):
        self.path, self.transform, self.options = os.fspath(path), transform, options
        with Dataset(self.path, **options) as ds:
            self._len = len(ds)
        self._reader: Dataset | None = None

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, i: int):
        if self._reader is None:  # first use in this process (a worker opens its own)
            self._reader = Dataset(self.path, **self.options)
        record = self._reader[i]
        if self.transform is not None:
            return self.transform(record)
        return torch.frombuffer(bytearray(record), dtype=torch.uint8) if record else torch.zeros(0, dtype=torch.uint8)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_reader": None}
