"""Where a model runs: the torch thread count and the device, decided once for every caller.

Importing this module does not import torch; the helpers do, when a model is about to run.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from .errors import DeviceError, OptionError, OutOfMemoryError

DEVICES = ("auto", "cpu", "cuda")  # "cuda:N" selects one GPU


def check_threads(threads: int | None) -> int | None:
    """None (torch's default), 0 (all cores) or a positive count; anything else is an OptionError."""
    if threads is not None and (type(threads) is not int or threads < 0):
        raise OptionError(f"threads must be None or an integer >= 0 (0: all cores), not {threads!r}")
    return threads


def worker_count(threads: int | None) -> int:
    """Worker threads for work that releases the GIL (the cm and numba kernels): `threads`, or every core for None or 0."""
    return threads or os.cpu_count() or 1


def in_order(work: Callable, items: Sequence, workers: int, ahead: int) -> Iterator:
    """`work(item)` for each item, yielded in order, computed on `workers` threads (a gain where the
    work releases the GIL: the cm and numba kernels, zlib), at most `ahead` x workers items ahead of the
    consumer; one thread computes them in turn, as map does."""
    if workers <= 1 or len(items) < 2:
        yield from map(work, items)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending = deque(pool.submit(work, item) for item in items[:ahead * workers])
        for i in range(len(pending), len(items) + len(pending)):
            result = pending.popleft().result()
            if i < len(items):
                pending.append(pool.submit(work, items[i]))
            yield result


def check_device(device: str) -> str:
    """One of DEVICES or "cuda:N", checked without importing torch."""
    base, _, index = device.partition(":") if isinstance(device, str) else ("", "", "")
    if base not in DEVICES or (index and (base != "cuda" or not index.isdigit())):
        raise OptionError(f"device must be one of {', '.join(DEVICES)} or cuda:N, not {device!r}")
    return device


@contextmanager
def torch_threads(threads: int | None):
    """Run a model with `threads` torch threads (0: all cores; None: unchanged), then restore the
    setting; torch running out of device or host memory becomes an MdlzipError (the CLI's one line)."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads if threads > 0 else (os.cpu_count() or 1))
    try:
        yield
    except torch.OutOfMemoryError as exc:
        raise DeviceError(f"out of device memory ({str(exc).splitlines()[0]})") from None
    except RuntimeError as exc:
        if "can't allocate memory" not in str(exc):  # torch's CPU allocator failing
            raise
        raise OutOfMemoryError(f"out of memory ({str(exc).splitlines()[0]})") from None
    finally:
        torch.set_num_threads(before)


def check_available(device: str) -> None:
    """A device asked for by name must exist, whether or not a model will run (torch loads only then)."""
    if device.startswith("cuda"):
        resolve_device(device)


def resolve_device(device: str):
    """The torch.device for a checked device name: "auto" is CUDA when available, else the CPU."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"device {device}: no CUDA device is available")
    return torch.device(device)
