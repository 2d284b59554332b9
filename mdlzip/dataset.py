"""Multi-member archives (FORMAT.md §6): many files or records, one stored model, each block readable alone.

bytes of the members -> records (records.split) -> blocks (records.group) -> train one model on
record-aligned chunks -> code each block as its own stream (fresh adaptive statistics, a lane
per record, the transformer's context restarting at each record) -> INDEX + DATA -> container
version 2. Both codings are made, `mixed` (with the model) and `cm` (without), and the smaller is
written, as for one file. A reader (`Dataset`) parses the index once and decodes only the blocks
that hold what is asked for.
"""
from __future__ import annotations

import os
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import numpy as np

from . import classical, container, members, memory, modelfile, records, runtime, sections
from .codec.layout import starts_of
from .container import Method, Section
from .errors import ChecksumError, FormatError, MdlzipError, ModelFileError, OptionError
from .levels import DEFAULT_LEVEL, check_level, settings
from .options import CompressOptions, DecompressOptions
from .training import distributed

MAX_CONTEXT = 512  # longest model context for records (the attention's cost grows with it)
CONTEXT_QUANTILE = 0.9  # the context covers this share of the records whole
CONTEXT_STEP = 32  # and is a multiple of this
CACHED_BLOCKS = 4  # decoded blocks a reader keeps (iterating a block's records decodes it once)
AHEAD = 4  # blocks coded or decoded ahead of the one consumed, per worker thread (runtime.in_order)


@dataclass(frozen=True)
class Cut:
    """The members, cut into records and the records grouped into blocks."""

    kind: str  # records.KINDS
    names: list[str]
    data: bytes  # every member's bytes, in order
    member_sizes: list[int]
    record_lengths: np.ndarray  # (records,)
    block_records: list[np.ndarray]  # per member: records per block

    @property
    def lane_starts(self) -> np.ndarray:
        return starts_of(self.record_lengths)

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        """(first byte, record lengths) of each block, in order."""
        pos, rec = 0, 0
        for counts in self.block_records:
            for count in counts.tolist():
                lengths = self.record_lengths[rec:rec + count]
                yield pos, lengths
                pos, rec = pos + int(lengths.sum()), rec + count


def cut(items: Sequence, kind: str, size: int, block_size: int) -> Cut:
    """`items`: (name, bytes) pairs, each a member cut by `kind`, or with kind RECORDS bytes objects
    that are the records of one member."""
    if kind == records.RECORDS:
        named = [("records", b"".join(bytes(r) for r in items))]
        lengths = [np.array([len(r) for r in items], np.int64)]
    else:
        named = [(str(name), bytes(data)) for name, data in items]
        lengths = [records.split(data, kind, size) for _, data in named]
    return Cut(kind, [n for n, _ in named], b"".join(d for _, d in named), [len(d) for _, d in named],
               np.concatenate([np.zeros(0, np.int64), *lengths]), [records.group(ls, block_size) for ls in lengths])


def context_length(record_lengths: np.ndarray, level_context: int) -> int:
    """The model's context for records: at least the level's, enough for most records whole."""
    typical = int(np.quantile(record_lengths[record_lengths > 0], CONTEXT_QUANTILE)) if record_lengths.any() else 1
    return int(min(MAX_CONTEXT, max(level_context, -(-typical // CONTEXT_STEP) * CONTEXT_STEP)))


def _lanes(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A block's lanes: its non-empty records (start in the block, length)."""
    lane_len = lengths[lengths > 0]
    return starts_of(lane_len), lane_len


def encode_block(model, data: bytes, lengths: np.ndarray, block: int, params) -> bytes:
    """One block's stream (FORMAT.md §6.3): its non-empty records are the lanes; `model` None codes
    with the adaptive statistics alone. A block without a non-empty record has no stream."""
    from .codec import mixed, mixer

    lanes = _lanes(lengths)
    if not len(lanes[1]):
        return b""
    if model is None:
        return mixer.encode_adaptive_lanes(data, *lanes, params, short_end=True)
    return mixed.encode_lanes(model, data, *lanes, block, params, dataset_block=True)


def decode_block(model, blob: bytes, lengths: np.ndarray, block: int, params) -> bytes:
    """Inverse of `encode_block`."""
    from .codec import mixed, mixer

    lanes = _lanes(lengths)
    if not len(lanes[1]):
        return b""
    if model is None:
        return mixer.decode_adaptive_lanes(blob, *lanes, params, short_end=True)
    return mixed.decode_lanes(model, blob, *lanes, block, params, dataset_block=True)


def _code_all(the_cut: Cut, model, block: int, params, bar=None, workers: int = 1) -> tuple[bytes, list[int], list[int]]:
    """Every block's stream: (DATA, the coded lengths, the blocks' CRC-32s). Without a model the
    blocks are coded on `workers` threads (each its own statistics, so the same bytes whatever the
    count); with one, in turn (its steps already use every thread)."""
    def code(span: tuple[int, np.ndarray]) -> tuple[bytes, int, int]:
        start, lengths = span
        data = the_cut.data[start:start + int(lengths.sum())]
        return encode_block(model, data, lengths, block, params), zlib.crc32(data), len(data)

    streams, crcs = [], []
    for stream, crc, n_bytes in runtime.in_order(code, list(the_cut.blocks()), workers if model is None else 1, AHEAD):
        streams.append(stream)
        crcs.append(crc)
        if bar is not None:
            bar.update(n_bytes)
    return b"".join(streams), [len(s) for s in streams], crcs


def _cut_of(items: Sequence, records_kind, block_size) -> Cut:
    return cut(items, *records.parse_kind(records_kind), records.parse_size(block_size, "block_size"))


def _options(call: str, options: dict) -> CompressOptions:
    opts = CompressOptions.from_keywords(call, options)
    if opts.pure:
        raise OptionError("pure=True is the one-file two-part code: a dataset mixes its model with adaptive statistics")
    runtime.check_available(opts.device)
    return opts


def _train(the_cut: Cut, plan, opts: CompressOptions):
    """The model for these records, the widths measured for it and the seconds those trials took:
    the level's depth, its context fit to the records, its width chosen by description length on
    held-back records (training/size.py), trained on record-aligned chunks (each from its record's
    start, as coding sees them)."""
    from dataclasses import replace

    from .codec.layout import lane_chunks
    from .training.size import choose_width, held_back
    from .training.train import train_quantized

    block = context_length(the_cut.record_lengths, plan.model.block_size)
    starts, lengths = lane_chunks(the_cut.lane_starts, the_cut.record_lengths, block)
    record_of_chunk = np.repeat(np.arange(len(the_cut.record_lengths)), -(-the_cut.record_lengths // block))
    device = runtime.resolve_device(opts.device)
    with runtime.torch_threads(opts.threads):
        t0 = time.perf_counter()
        cfg, sweep = choose_width(the_cut.data, (starts, lengths), held_back(record_of_chunk),
                                  replace(plan.model, block_size=block), plan.train, device)
        trial_seconds = time.perf_counter() - t0
        trained = train_quantized(the_cut.data, cfg, plan.train, device, opts.progress, opts.lump_eps,
                                  chunks=(starts, lengths))
    return trained, sweep, trial_seconds


def train_model(items: Sequence, level: int = DEFAULT_LEVEL, *, records_kind: str | int | None = None,
                **options) -> bytes | None:
    """A reusable model file (.mdlm, FORMAT.md §7) trained on `items` (as for `compress_dataset`),
    for `compress_dataset(..., model_file=...)`: new data of the same kind coded with it stores no model.
    Under torchrun (training/distributed.py) every rank trains, rank 0 gets the file, the others None."""
    opts = _options("train_model", options)
    the_cut = _cut_of(items, records_kind, 0)
    if not the_cut.data:
        raise OptionError("no data to train on")
    plan = settings(check_level(level), len(the_cut.data), time_budget=opts.time_budget, **opts.train_overrides())
    trained = _train(the_cut, plan, opts)[0]
    return modelfile.dump(trained.qm) if distributed.is_main() else None  # under torchrun rank 0 writes


def compress_dataset_with_report(items: Sequence, level: int = DEFAULT_LEVEL, *, records_kind: str | int | None = None,
                                 block_size: int | str = records.DEFAULT_BLOCK_SIZE,
                                 model_file: bytes | modelfile.ModelFile | None = None, **options):
    """A multi-member archive of `items` and its MDL report (see `compress_dataset`); under torchrun
    (training/distributed.py) every rank trains, rank 0 gets them, the others (None, None)."""
    from tqdm import tqdm

    from .api import Report, _info

    opts = _options("compress_dataset", options)
    external = modelfile.load(model_file) if isinstance(model_file, (bytes, bytearray)) else model_file
    if external is not None and (opts.model is False or opts.model_options()):
        raise OptionError("a model file is a trained model: model=False and training options do not go with it")
    the_cut = _cut_of(items, records_kind, block_size)
    plan = settings(check_level(level), len(the_cut.data), time_budget=opts.time_budget, **opts.train_overrides())
    blocks = [lengths for _, lengths in the_cut.blocks()]
    params = plan.mixer.sized_for(max([int(ls.sum()) for ls in blocks] or [1]))  # a block's tables
    lanes = max([int((ls > 0).sum()) for ls in blocks] or [1])
    with_model = external is not None or (opts.model is not False and bool(the_cut.data))
    t0, trained, sweep, trial_seconds = time.perf_counter(), None, [], 0.0
    if with_model and external is None:
        trained, sweep, trial_seconds = _train(the_cut, plan, opts)
    if not distributed.is_main():  # another rank of a distributed training: it trained, rank 0 codes and writes
        return None, None
    workers = runtime.worker_count(opts.threads)
    # the report's xz reference on a thread beside the coding, as for one file (api.compress_pieces)
    with ThreadPoolExecutor(1) as beside:
        xz_pending = beside.submit(classical.xz_size, the_cut.data) if workers > 1 else None
        bar = tqdm(total=len(the_cut.data) * (2 if with_model else 1), desc="coding", unit="B", unit_scale=True,
                   disable=not opts.progress, leave=False)
        candidates = {}
        if with_model:
            qm = external.qm if external is not None else trained.qm
            train_seconds = time.perf_counter() - t0 - trial_seconds
            config = sections.mix_config(qm.cfg.block_size, lanes, params, qm.cfg, records=True,
                                         model_sha256=external.sha256 if external is not None else None)
            with runtime.torch_threads(opts.threads):
                model = _exact(qm, opts.device)
                candidates[Method.MIXED] = (config, None if external else sections.weights_section(qm),
                                            *_code_all(the_cut, model, qm.cfg.block_size, params, bar))
        else:
            train_seconds = 0.0
        block = qm.cfg.block_size if with_model else context_length(the_cut.record_lengths, plan.model.block_size)
        cm_config = sections.mix_config(block, lanes, params, records=True)
        candidates[Method.CM] = (cm_config, None, *_code_all(the_cut, None, block, params, bar, workers))
        bar.close()
        xz_bytes = xz_pending.result() if xz_pending else classical.xz_size(the_cut.data)
    archives = {m: _pack(m, the_cut, *parts) for m, parts in candidates.items()}
    method = min(archives, key=lambda m: (len(archives[m]), m != Method.MIXED))
    archive, unpacked = archives[method], container.unpack(archives[method])
    if opts.verify and Dataset.of(unpacked, DecompressOptions(device=opts.device, memlimit=0), external).read_all() \
            != the_cut.data:
        raise MdlzipError("self-check failed: the archive does not decode to the input")
    info = _info(unpacked, len(archive))
    stats = trained.stats if trained else None
    report = Report(**asdict(info), level=level, xz_bytes=xz_bytes,
                    neural_bytes=len(archives[Method.MIXED]) if Method.MIXED in archives else None,
                    candidates={m.name.lower(): len(a) for m, a in archives.items()},
                    train_steps=stats.steps if stats else 0, trial_seconds=trial_seconds, train_seconds=train_seconds,
                    code_seconds=time.perf_counter() - t0 - trial_seconds - train_seconds,
                    device=str(runtime.resolve_device(opts.device)) if with_model else "cpu",
                    training=dict(asdict(stats), size_sweep=sweep) if stats else {},
                    no_model=None if with_model else "none trained: model=False",
                    external_model=_describe(external) if external is not None else None)
    return archive, report


def _describe(external: modelfile.ModelFile) -> dict:
    return {"sha256": external.sha256, "bytes": external.size}


def _exact(qm, device: str):
    from .models.exact import ExactByteGPT

    return ExactByteGPT(qm, runtime.resolve_device(device))


def _pack(method: Method, the_cut: Cut, config: bytes, weights: bytes | None, data: bytes, coded: list[int],
          crcs: list[int]) -> bytes:
    member_crcs, pos = [], 0
    for size in the_cut.member_sizes:
        member_crcs.append(zlib.crc32(the_cut.data[pos:pos + size]))
        pos += size
    index = members.build(the_cut.kind, list(zip(the_cut.names, member_crcs)), the_cut.block_records,
                          the_cut.record_lengths, coded, crcs)
    parts = [(Section.CONFIG, config)] + ([(Section.WEIGHTS, weights)] if weights is not None else [])
    parts += [(Section.INDEX, members.encode(index)), (Section.DATA, data)]
    return container.pack_members(method, len(the_cut.data), zlib.crc32(the_cut.data), parts)


def compress_dataset(items: Sequence, level: int = DEFAULT_LEVEL, *, records_kind: str | int | None = None,
                     block_size: int | str = records.DEFAULT_BLOCK_SIZE,
                     model_file: bytes | modelfile.ModelFile | None = None, **options) -> bytes:
    """A multi-member archive: one model for all of `items`, each block readable alone.

    `items` are (name, bytes) pairs (files), each cut into records by `records_kind`: None (the
    file is one record), "lines", "csv", or a size (fixed records, e.g. 2048 or "2k"); or, with
    `records_kind="records"`, bytes objects that are themselves the records. Records are grouped
    into blocks of at least `block_size` bytes (0: one record per block), the unit of random access.
    `model_file`: a model file's bytes (`train_model`) to code with instead of training one; it is
    not stored, and reading needs it. Options as for `mdlzip.compress` (model=False: the adaptive
    statistics alone; `fallback` has no effect: a dataset archive is mixed or cm, whichever is smaller)."""
    return compress_dataset_with_report(items, level, records_kind=records_kind, block_size=block_size,
                                        model_file=model_file, **options)[0]


class Dataset(Sequence):
    """The records of a multi-member archive, read-only: `len`, `[i]`, slices, iteration, `names`
    (the members'), `member(name)`. Decodes only the blocks that hold what is asked for; a block's
    CRC is checked whenever it is decoded. Use as a context manager, or `close()`."""

    def __init__(self, source: str | os.PathLike | bytes, *, device: str = "auto", threads: int | None = None,
                 memlimit: int | str | None = None, model_file: bytes | None = None):
        self._opts = DecompressOptions.from_keywords("open_dataset", dict(device=device, threads=threads,
                                                                           memlimit=memlimit, model_file=model_file))
        if not isinstance(source, (bytes, bytearray, memoryview)):
            with open(source, "rb") as f:  # read whole: a block is then a slice (no file held open)
                source = f.read()
        self._open(container.unpack(source))

    @classmethod
    def of(cls, archive: container.Archive, opts: DecompressOptions,
           external: modelfile.ModelFile | None = None) -> Dataset:
        """The reader of an archive already unpacked; `external`: its model file, already loaded."""
        reader = cls.__new__(cls)
        reader._opts = opts
        reader._open(archive, external)
        return reader

    def _open(self, archive: container.Archive, external: modelfile.ModelFile | None = None) -> None:
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._model = None
        if not archive.members:
            raise FormatError("not a multi-member archive (a single file: use mdlzip.decompress)")
        self.method, self._archive = archive.method, archive
        self.coding = sections.read_coding(archive.method, archive.sections, archive.original_size, members=True)
        self._data = archive.sections[Section.DATA]
        self.index = read_index(archive, self.coding)
        self._block_memory = block_memory(archive.method, self.coding, self.index)  # one block's decoding
        memory.check(self._block_memory, self._opts.memlimit)
        self._external = external_model(self.coding, self._opts.model_file, external)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.index.members]

    def __len__(self) -> int:
        return len(self.index.record_lengths)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        n = len(self)
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"dataset indices must be integers or slices, not {type(i).__name__}")
        if not -n <= i < n:
            raise IndexError(f"record {i} out of range ({n} records)")
        i = int(i) % n
        b = int(self.index.record_block[i])
        block = self.block(b)
        starts = self.index.record_starts
        base = starts[self.index.block_first_record[b]]
        return block[starts[i] - base:starts[i + 1] - base]

    def __iter__(self) -> Iterator[bytes]:
        starts = self.index.record_starts
        for b, data in enumerate(self.blocks()):
            first, end = self.index.block_first_record[b:b + 2]
            base = starts[first]
            for i in range(first, end):
                yield data[starts[i] - base:starts[i + 1] - base]

    def member(self, key: int | str) -> bytes:
        """A member's bytes (by position or name), its CRC-32 checked."""
        m = self.names.index(key) if isinstance(key, str) else key
        member = self.index.members[m]
        data = b"".join(self.block(b) for b in range(member.first_block, member.first_block + member.n_blocks))
        if zlib.crc32(data) != member.crc:
            raise ChecksumError(f"{member.name}: decoded data does not match the stored CRC32")
        return data

    def block(self, b: int) -> bytes:
        """The bytes of block b (decoded once, then cached), its check verified."""
        if b in self._blocks:
            self._blocks.move_to_end(b)
            return self._blocks[b]
        self._coding_model()
        data = self._blocks[b] = self._decode(b)
        if len(self._blocks) > CACHED_BLOCKS:
            self._blocks.popitem(last=False)
        return data

    def _decode(self, b: int) -> bytes:
        """Block b decoded and checked (no cache: worker threads call it; the model is built first)."""
        first, end = self.index.block_first_record[b:b + 2]
        lengths = self.index.record_lengths[first:end]
        blob = self._data[self.index.block_offsets[b]:self.index.block_offsets[b + 1]]
        on_cpu = self._model is None or self._model.device.type == "cpu"
        with nullcontext() if on_cpu else runtime.torch_threads(self._opts.threads):
            data = decode_block(self._model, bytes(blob), lengths, self.coding.block, self.coding.mixer)
        if zlib.crc32(data) & members.CHECK_MASK != int(self.index.block_check[b]):
            raise ChecksumError(f"block {b} (records {first}-{end - 1}): decoded data does not match its check")
        return data

    def blocks(self) -> Iterator[bytes]:
        """Every block's bytes in order, decoded on `threads` worker threads (default: every core;
        the coding kernels release the GIL), a few blocks ahead of the reader at most."""
        yield from runtime.in_order(self._decode, range(len(self.index.block_records)), self._workers(), AHEAD)

    def _workers(self) -> int:
        """Blocks decoded at once: `threads` of them (every core by default; one where torch runs on a
        device), as many as the memory limit holds beside the output (each thread allocates what its
        block needs, FORMAT.md §5), at least one (which opening the archive checked)."""
        on_cpu = self._coding_model() is None or self._model.device.type == "cpu"
        workers = runtime.worker_count(self._opts.threads) if on_cpu else 1
        if self._opts.memlimit:
            per_block = self._block_memory["total"]
            workers = min(workers, max(1, (self._opts.memlimit - self._archive.original_size) // per_block))
        return workers

    def _coding_model(self):
        if self.method != Method.MIXED:
            return None
        if self._model is None:
            qm = self._external.qm if self._external else sections.read_model(self.coding, self._archive.sections)
            self._model = _exact(qm, self._opts.device)
        return self._model

    def read_all(self) -> bytes:
        """Every member's bytes in order, the archive's CRC-32 checked."""
        return bytes(self.read_into())

    def read_into(self) -> memoryview:
        """`read_all` as a view of one array of the original size that the blocks fill as they are
        decoded (what `mdlzip.decompress` writes: the output is held once, not as blocks and then
        joined)."""
        out, pos = bytearray(self._archive.original_size), 0
        for data in self.blocks():
            out[pos:pos + len(data)] = data
            pos += len(data)
        if zlib.crc32(out) != self._archive.original_crc:
            raise ChecksumError("decoded data does not match the stored CRC32")
        return memoryview(out)

    def close(self) -> None:
        """Let go of the archive's bytes, the decoded blocks and the model."""
        self._data = self._archive = self._model = None
        self._blocks.clear()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def external_model(coding: sections.Coding, model_file: bytes | None,
                   loaded: modelfile.ModelFile | None = None) -> modelfile.ModelFile | None:
    """The model file an archive names (None where it stores its model or has none), from its bytes
    or already `loaded`, checked to be that one."""
    if coding.model_sha256 is None:
        return None
    if model_file is None and loaded is None:
        raise ModelFileError(f"coded with an external model file (sha256 {coding.model_sha256[:16]}...): "
                             "give it with -M FILE (model_file=)")
    loaded = loaded or modelfile.load(model_file)
    if loaded.sha256 != coding.model_sha256:
        raise ModelFileError(f"the model file given (sha256 {loaded.sha256[:16]}...) is not the one this archive "
                             f"was coded with (sha256 {coding.model_sha256[:16]}...)")
    return loaded


def read_index(archive: container.Archive, coding: sections.Coding) -> members.Index:
    """The checked INDEX of a multi-member archive whose CONFIG `coding` is checked."""
    return members.decode(archive.sections[Section.INDEX], archive.original_size, len(archive.sections[Section.DATA]),
                          coding.lanes)


def block_memory(method: Method, coding: sections.Coding, index: members.Index) -> dict:
    """What decoding the largest block allocates (a reader needs one block at a time; Dataset._workers)."""
    biggest = int(index.block_sizes.max()) if len(index.block_sizes) else 0
    coded = int(index.coded_lengths.max()) if len(index.coded_lengths) else 0
    return memory.needed(method, biggest, coding, coded)


def open_dataset(source: str | os.PathLike | bytes, **options) -> Dataset:
    """The records of a multi-member archive (a path or the archive's bytes) as a read-only
    sequence; options: device, threads, memlimit (as for `mdlzip.decompress`)."""
    return Dataset(source, **options)
