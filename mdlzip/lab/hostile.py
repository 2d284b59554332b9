"""Hostile archives: hand-built with valid CRCs and every declared value inside FORMAT.md's caps,
to check that decoding stays bounded (tests/test_hostile.py, scripts/fuzz.py).

`crafted()` gives the named worst cases of issue 16; `mutate()` derives a random archive from a
real one by changing one field of its CONFIG, its weights, its header or (multi-member archives)
its index, and re-packs it with valid CRCs, so that the mutation reaches the readers behind the
checksums.
"""
from __future__ import annotations

import json
import random

import numpy as np

from ..classical import EXPANSION
from ..codec.cm_params import MixParams
from ..container import Archive, Method, Section, pack, pack_declared, unpack
from ..models.stored import ByteGPTConfig, act_scale_names, weight_layout
from ..sections import MAX_EXPANSION, mix_config, neural_config


def _zero_weights(cfg: ByteGPTConfig) -> bytes:
    """A WEIGHTS section of an all-zero model: scales of 1, then one header byte (nnz = 0) per matrix."""
    n_scales = len(weight_layout(cfg)) + len(act_scale_names(cfg))
    return np.ones(n_scales, "<f4").tobytes() + bytes(len(weight_layout(cfg)))


def _archive(method: Method, n_bytes: int, parts: list[tuple[Section, bytes]]) -> bytes:
    """An archive declaring `n_bytes` original bytes (of CRC 0: the decoder must fail before the end)."""
    return pack_declared(method, n_bytes, 0, parts)


def repack(a: Archive) -> bytes:
    """An archive from an unpacked (and edited) `container.Archive`, with valid CRCs."""
    return pack_declared(a.method, a.original_size, a.original_crc, [(k, bytes(v)) for k, v in a.sections.items()],
                         members=a.members)


def _mutate_index(section: bytes, rng: random.Random) -> bytes:
    """A multi-member archive's INDEX with 1-4 bytes of its raw index changed (a zstd frame again)."""
    import zstandard

    from .. import varint

    size, pos = varint.decode(section, 0, len(section), "the index")
    raw = bytearray(zstandard.ZstdDecompressor().decompress(section[pos:], max_output_size=size))
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(raw))
        raw[i] = rng.choice([0, 1, 0x7F, 0xFF, rng.randrange(256), raw[i] ^ (1 << rng.randrange(8))])
    return varint.encode(len(raw)) + zstandard.ZstdCompressor().compress(bytes(raw))


# The largest legal models: the widest (one layer of 2048) and the deepest with the longest context
# (64 layers of 256 over 8192 bytes), each under the cap on parameters.
WIDE = ByteGPTConfig(block_size=8192, n_layer=1, n_head=4, n_embd=2048, mlp_ratio=3)
DEEP = ByteGPTConfig(block_size=8192, n_layer=64, n_head=64, n_embd=256, mlp_ratio=4)


def crafted(seed: int = 0) -> dict[str, bytes]:
    """The worst cases of issue 16, by name."""
    rng = np.random.default_rng(seed)
    small = MixParams(hash_bits=16, match_bits=12)
    cm_data = rng.bytes(3300)
    out = {
        "nested-json-config": _archive(Method.CM, 10, [(Section.CONFIG, b"[" * 100_000 + b"]" * 100_000),
                                                       (Section.DATA, b"\0" * 8)]),
        "nested-json-in-mixer": _archive(Method.CM, 10, [
            (Section.CONFIG, mix_config(1, 1, small).replace(b'"limit":%d' % small.limit,
                                                             b'"limit":' + b"[" * 5000 + b"]" * 5000)),
            (Section.DATA, b"\0" * 8)]),
        "zstd-2^34": _archive(Method.ZSTD, 1 << 34, [(Section.PAYLOAD, rng.bytes(64))]),
        "zstd-2^40": _archive(Method.ZSTD, 1 << 40, [(Section.PAYLOAD, rng.bytes(64))]),
        "zstd-largest-size": _archive(Method.ZSTD, EXPANSION[Method.ZSTD] * 4096, [(Section.PAYLOAD, rng.bytes(4096))]),
        "xz-largest-size": _archive(Method.XZ, EXPANSION[Method.XZ] * 4096, [(Section.PAYLOAD, rng.bytes(4096))]),
        "cm-largest-size": _archive(Method.CM, MAX_EXPANSION * len(cm_data) + 1024, [
            (Section.CONFIG, mix_config(1, 1, MixParams())), (Section.DATA, cm_data)]),
    }
    tiny = ByteGPTConfig(block_size=8192, n_layer=1, n_head=1, n_embd=8, mlp_ratio=1)
    out["neural-longest-stream"] = _archive(Method.NEURAL, 4096 * 8192, [  # one stream of 0 words, 32 MiB
        (Section.CONFIG, neural_config(tiny, 4096)), (Section.WEIGHTS, _zero_weights(tiny)), (Section.DATA, bytes(4))])
    for name, cfg in (("wide", WIDE), ("deep", DEEP)):
        out[f"neural-{name}"] = _archive(Method.NEURAL, 1 << 20, [
            (Section.CONFIG, neural_config(cfg, 64)), (Section.WEIGHTS, _zero_weights(cfg)),
            (Section.DATA, b"\0" * 4 * 2)])
        out[f"mixed-{name}"] = _archive(Method.MIXED, 1 << 20, [
            (Section.CONFIG, mix_config(cfg.block_size, 1024, small, cfg)), (Section.WEIGHTS, _zero_weights(cfg)),
            (Section.DATA, rng.bytes(1024))])
    return out


# --- mutations of real archives --------------------------------------------------------------------

EXTREMES = (0, 1, -1, 2, 255, 256, 65535, 65536, 1 << 20, 1 << 24, 1 << 31, 1 << 32, 1 << 53, 1 << 64, 10**30,
            1.5, -0.0, 1e308, "x", None, True, [], {}, [1, 2])


def _mutate_json(value, rng: random.Random):
    """One random change somewhere inside a JSON value: a member replaced, removed or added."""
    if isinstance(value, dict) and value and rng.random() < 0.7:
        key = rng.choice(sorted(value))
        choice = rng.random()
        if choice < 0.6:
            value[key] = _mutate_json(value[key], rng)
        elif choice < 0.8:
            del value[key]
        else:
            value[rng.choice(["extra", key + "_", "model", "mlp_hidden"])] = rng.choice(EXTREMES)
        return value
    if isinstance(value, list) and value and rng.random() < 0.7:
        i = rng.randrange(len(value))
        value[i] = _mutate_json(value[i], rng)
        return value
    if isinstance(value, int) and not isinstance(value, bool) and rng.random() < 0.5:
        return rng.choice([value * 2, value * 64, value + 1, value - 1, value << 10, 0, 2048, 4096, 8192, 16384])
    return rng.choice(EXTREMES)


def mutate(blob: bytes, rng: random.Random) -> bytes:
    """A variant of a valid archive with one field changed and valid CRCs."""
    a = unpack(blob)
    target = rng.random()
    if Section.INDEX in a.sections and rng.random() < 0.4:
        a.sections[Section.INDEX] = _mutate_index(a.sections[Section.INDEX], rng)
    elif target < 0.45 and Section.CONFIG in a.sections:
        raw = json.loads(a.sections[Section.CONFIG])
        a.sections[Section.CONFIG] = json.dumps(_mutate_json(raw, rng)).encode()
    elif target < 0.65 and Section.WEIGHTS in a.sections:
        w = bytearray(a.sections[Section.WEIGHTS])
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(w))
            w[i] = rng.randrange(256) if rng.random() < 0.5 else w[i] ^ (1 << rng.randrange(8))
        a.sections[Section.WEIGHTS] = bytes(w)
    elif target < 0.85:
        a.original_size = rng.choice([0, 1, a.original_size + 1, a.original_size * 2, a.original_size * 4096,
                                      1 << 30, 1 << 40, rng.randrange(1 << 40)])
    else:
        key = Section.DATA if Section.DATA in a.sections else Section.PAYLOAD
        d = bytearray(a.sections[key])
        if d and rng.random() < 0.5:
            d[rng.randrange(len(d))] ^= 1 << rng.randrange(8)
        else:
            d = d[:rng.randrange(len(d) + 1)]
        a.sections[key] = bytes(d)
    return repack(a)


def bases(seed: int = 0) -> dict[str, tuple[bytes, bytes]]:
    """Small valid archives of every method, name -> (archive, original): the seeds of `mutate`.
    The model methods use a random tiny model (no training), so building them takes a second."""
    import torch

    from ..classical import ENCODERS
    from ..codec import arith, mixed, mixer
    from ..dataset import _code_all, _pack, compress_dataset, cut
    from ..records import LINES
    from ..models.exact import ExactByteGPT, chunk_inputs, quantize
    from ..models.transformer import ByteGPT
    from ..sections import weights_section
    from .synthetic import markov_source

    text = markov_source(600, seed=seed)[0]
    torch.manual_seed(seed)
    cfg = ByteGPTConfig(block_size=32, n_layer=1, n_head=2, n_embd=16)
    net = ByteGPT(cfg)
    x = torch.randint(0, 256, (4, cfg.block_size))
    net.train()
    net(chunk_inputs(x), x)  # calibrates the activation scales
    net.eval()
    qm = quantize(net)
    exact, weights, params = ExactByteGPT(qm), weights_section(qm), MixParams(hash_bits=16, match_bits=12)
    out = {m.name.lower(): pack(m, text, [(Section.PAYLOAD, encode(text))])
           for m, encode in ENCODERS.items()}
    out["cm"] = pack(Method.CM, text, [(Section.CONFIG, mix_config(1, 1, params)),
                                       (Section.DATA, mixer.encode_adaptive(text, 1, params))])
    out["mixed"] = pack(Method.MIXED, text, [(Section.CONFIG, mix_config(32, 4, params, cfg)), (Section.WEIGHTS, weights),
                                             (Section.DATA, mixed.encode(exact, text, 32, 4, params))])
    out["neural"] = pack(Method.NEURAL, text, [(Section.CONFIG, neural_config(cfg, 4)), (Section.WEIGHTS, weights),
                                                  (Section.DATA, arith.encode(exact, text, 4))])
    lines = text.replace(b" ", b"\n", 40)  # short records
    out["members_cm"] = compress_dataset([("a", lines), ("b", text[:100]), ("c", b"")], 1, records_kind="lines",
                                         block_size=64, model=False)
    the_cut = cut([("a", lines)], LINES, 0, 64)
    members_config = mix_config(32, 64, params, cfg, records=True)
    out["members_mixed"] = _pack(Method.MIXED, the_cut, members_config, weights, *_code_all(the_cut, exact, 32, params))
    expected = {"members_cm": lines + text[:100], "members_mixed": lines}
    return {name: (blob, expected.get(name, text)) for name, blob in out.items()}

