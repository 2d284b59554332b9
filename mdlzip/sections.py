"""The sections of the model methods (FORMAT.md §3): CONFIG as JSON, WEIGHTS, and their limits.

Writers and readers side by side, so that what is written is what is read. A reader checks every
value against its cap before anything is allocated from it and raises FormatError on any defect.
No torch: `info` reads these sections for any archive without loading it.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields

import numpy as np

from .codec.cm_params import PROB_ONE, MixParams
from .codec.weights import MAX_ELEMENTS, decode_tensors, encode_tensors
from .container import MAX_CONFIG_BYTES, Method, Section
from .errors import FormatError, UnsupportedVersionError
from .models.stored import (
    ByteGPTConfig,
    QuantizedModel,
    act_scale_names,
    param_count,
    weight_layout,
)

CODER = "range/constriction/categorical-lazy/precision24/float64"  # NEURAL, fixed by format version 1
# The coders of MIXED and CM (codec/mixer.py) by the cm kernel that codes (MixParams.kernel): kernel 2
# wrote format version 3, kernel 3 version 4, kernel 4 writes version 5; one file's lanes, and a
# multi-member archive's records (a stream per block, a lane per record, short ends)
MIX_CODERS = {2: "mix2/binary32/lanes", 3: "mix3/binary32/lanes", 4: "mix4/binary32/lanes"}
RECORDS_CODERS = {2: "mix2/binary32/records", 3: "mix3/binary32/records", 4: "mix4/binary32/records"}
# The coders of mdlzip 0.1 (format versions 1 and 2): an adaptive model this version no longer has
RETIRED_CODERS = ("mix/binary32/lanes", "mix/binary32/records")
LIMITS = {"block_size": 8192, "n_layer": 64, "n_head": 64, "n_embd": 2048, "mlp_ratio": 8, "weight_bits": 15}
MAX_HEAD_SIZE = 512  # n_embd / n_head
MAX_PARAMS = MAX_ELEMENTS  # weights of a stored model, dense: as many as the weights codec holds
MAX_GROUP = 1 << 12  # chunks per NEURAL stream: a decoder holds every chunk of a stream at once
MAX_LANES = 1 << 14  # lanes of MIXED: a decoder holds every lane's chunk at once
MAX_JSON_DEPTH = 4  # nesting of CONFIG (the deepest member, model.mlp_hidden, is at depth 3)
SCALE_RANGE = (2.0**-40, 2.0**20)  # stored scales outside it could overflow an intermediate
# A bit costs at least -log2(1 - 1/PROB_ONE) > 1/(PROB_ONE ln 2) bits, so one coded byte of the
# mixing coder holds fewer than PROB_ONE bytes: a declared size above that is corrupt.
MAX_EXPANSION = PROB_ONE
# The range coder's models are precision-24 categoricals in which every byte value has at least
# one of the 2^24 quanta, so a byte costs at least -log2(1 - 255/2^24) = 2.19e-5 bits and a u32
# word holds at most 1,459,325 bytes; a NEURAL stream of w words holds fewer than (w + 1) times that.
MAX_BYTES_PER_WORD = 1_459_325


def _json(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _depth(text: str) -> int:
    """Deepest nesting of JSON arrays and objects in `text` (string contents skipped)."""
    depth = deepest = 0
    for bracket in re.sub(r'"(?:[^"\\]|\\.)*"', "", text):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif bracket in "]}":
            depth -= 1
    return deepest


def _load(blob: bytes) -> dict:
    """Parse a CONFIG: its size and nesting are bounded before the JSON parser sees it."""
    if len(blob) > MAX_CONFIG_BYTES:
        raise FormatError(f"model configuration is corrupt (over {MAX_CONFIG_BYTES} bytes)")
    try:
        text = blob.decode("utf-8")
        if _depth(text) > MAX_JSON_DEPTH:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH}")
        raw = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"model configuration is corrupt ({exc})") from None
    if not isinstance(raw, dict):
        raise FormatError("model configuration is corrupt")
    return raw


def neural_config(cfg: ByteGPTConfig, group: int) -> bytes:
    """CONFIG of a NEURAL archive: the model, the stream group, the coder."""
    return _json({"model": cfg.to_dict(), "group": group, "coder": CODER})


def mix_config(block: int, lanes: int, params: MixParams, cfg: ByteGPTConfig | None = None,
               records: bool = False, model_sha256: str | None = None) -> bytes:
    """CONFIG of a MIXED archive (with the model `cfg`) or a CM archive (without), coded by the
    kernel `params.kernel`; a multi-member archive's (`records`) has its RECORDS_CODERS name and, as
    `lanes`, the most records a block holds, and names the external model file it was coded with by
    `model_sha256`."""
    head = {"model": cfg.to_dict()} if cfg is not None else {}
    if model_sha256 is not None:
        head["model_sha256"] = model_sha256
    coder = (RECORDS_CODERS if records else MIX_CODERS)[params.kernel]
    return _json({**head, "block": block, "lanes": lanes, "mixer": params.to_dict(), "coder": coder})


def read_model_config(model: object) -> ByteGPTConfig:
    """Bound-check a stored model configuration before anything is allocated from it."""
    try:
        names = {f.name for f in fields(ByteGPTConfig)}
        hidden = model.pop("mlp_hidden", [])
        if set(model) != names - {"mlp_hidden"} or not all(type(model[k]) is int for k in model):
            raise ValueError("bad model fields")
        if type(hidden) is not list or not all(type(h) is int and h >= 1 for h in hidden):
            raise ValueError("bad MLP widths")
        cfg = ByteGPTConfig(**model, mlp_hidden=tuple(hidden))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FormatError(f"model configuration is corrupt ({exc})") from None
    for key, cap in LIMITS.items():
        if not 1 <= getattr(cfg, key) <= cap:
            raise FormatError(f"model configuration is out of range ({key})")
    if cfg.n_embd % cfg.n_head or cfg.n_embd // cfg.n_head > MAX_HEAD_SIZE or cfg.weight_bits < 2:
        raise FormatError("model configuration is inconsistent")
    if cfg.mlp_hidden and (len(cfg.mlp_hidden) != cfg.n_layer or max(cfg.mlp_hidden) > cfg.mlp_ratio * cfg.n_embd):
        raise FormatError("model configuration is inconsistent (MLP widths)")
    if param_count(cfg) > MAX_PARAMS:
        raise FormatError("model configuration is too large")
    return cfg


@dataclass(frozen=True)
class Coding:
    """A model method's CONFIG, checked: all that a decoder needs to know before it builds anything."""

    method: Method
    model: ByteGPTConfig | None  # NEURAL and MIXED: the stored transformer
    block: int  # chunk length (the model's context)
    group: int = 0  # NEURAL: chunks per range-coded stream
    lanes: int = 0  # MIXED and CM: lanes of the binary coder
    mixer: MixParams | None = None  # MIXED and CM: the adaptive statistics
    model_sha256: str | None = None  # MIXED in a multi-member archive: the external model file it needs (§7)


def _neural(raw: dict) -> Coding:
    if raw.get("coder") != CODER:
        raise FormatError(f"unsupported coder {raw.get('coder')!r}")
    group = raw.get("group")
    if type(group) is not int or not 1 <= group <= MAX_GROUP:
        raise FormatError("model configuration is corrupt (stream group)")
    cfg = read_model_config(raw.get("model"))
    return Coding(Method.NEURAL, cfg, cfg.block_size, group=group)


def _mix(raw: dict, method: Method, members: bool) -> Coding:
    if raw.get("coder") in RETIRED_CODERS:
        raise UnsupportedVersionError(f"written by an older mdlzip (0.1): unsupported coder {raw['coder']!r} "
                                      f"(its {method.name.lower()} coding changed in format version 3; "
                                      "decode it with mdlzip 0.1)")
    kernel = next((k for k, name in (RECORDS_CODERS if members else MIX_CODERS).items() if name == raw.get("coder")),
                  None)
    if kernel is None:
        raise FormatError(f"unsupported coder {raw.get('coder')!r}")
    block, lanes = raw.get("block"), raw.get("lanes")
    if type(block) is not int or not 1 <= block <= LIMITS["block_size"] or type(lanes) is not int \
            or not 1 <= lanes <= MAX_LANES:
        raise FormatError("coder configuration is corrupt (block or lanes)")
    try:
        params = MixParams.from_dict(raw.get("mixer"), kernel)
    except (ValueError, TypeError, AttributeError) as exc:
        raise FormatError(f"coder configuration is corrupt ({exc})") from None
    if (method == Method.MIXED) != ("model" in raw):
        raise FormatError(f"coder configuration is corrupt ({'no' if method == Method.MIXED else 'a'} model)")
    cfg = read_model_config(raw["model"]) if method == Method.MIXED else None
    if cfg is not None and cfg.block_size != block:
        raise FormatError("coder configuration is inconsistent (block)")
    sha = raw.get("model_sha256")
    if sha is not None and not (members and method == Method.MIXED and type(sha) is str
                                and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise FormatError("coder configuration is corrupt (model_sha256)")
    return Coding(method, cfg, block, lanes=lanes, mixer=params, model_sha256=sha)


def _check_streams(data: bytes, n_bytes: int, span: int) -> None:
    """Each NEURAL stream (a u32 word count, then its words) must be able to hold its bytes."""
    pos = 0
    for start in range(0, n_bytes, span):
        if pos + 4 > len(data):
            raise FormatError("coded data is too short for the original size")
        words = int.from_bytes(data[pos:pos + 4], "little")
        if min(span, n_bytes - start) > MAX_BYTES_PER_WORD * (words + 1):
            raise FormatError("a coded stream is too short for its bytes")
        pos += 4 + 4 * words


def read_coding(method: Method, parts: dict[Section, bytes], n_bytes: int, members: bool = False) -> Coding:
    """The checked CONFIG of a NEURAL, MIXED or CM archive (`members`: a multi-member one), and the
    declared size checked against what its DATA section can hold."""
    raw = _load(parts[Section.CONFIG])
    coding = _neural(raw) if method == Method.NEURAL else _mix(raw, method, members)
    if coding.model is not None and (coding.model_sha256 is None) != (Section.WEIGHTS in parts):
        raise FormatError("model configuration is inconsistent (weights stored and an external model named)"
                          if coding.model_sha256 else "weights section is missing")
    if method == Method.NEURAL:
        _check_streams(parts[Section.DATA], n_bytes, coding.block * coding.group)
    elif not members and n_bytes > MAX_EXPANSION * len(parts[Section.DATA]) + 1024:  # members: per block (§6.2)
        raise FormatError("coded data is too short for the original size")
    return coding


def weights_section(qm: QuantizedModel) -> bytes:
    """WEIGHTS: the float32 scales (weights, then activations), then the coded integer weights."""
    scales = np.array(list(qm.weight_scales.values()) + list(qm.act_scales.values()), dtype="<f4")
    return scales.tobytes() + encode_tensors(list(qm.codes.values()), qm.cfg.weight_qmax)


def read_weights(cfg: ByteGPTConfig, weights: bytes) -> QuantizedModel:
    shapes, act_names = weight_layout(cfg), act_scale_names(cfg)
    n_scales = len(shapes) + len(act_names)
    if len(weights) < 4 * n_scales:
        raise FormatError("weights section is truncated")
    scales = np.frombuffer(weights, dtype="<f4", count=n_scales).astype(float)
    if not np.all((scales >= SCALE_RANGE[0]) & (scales <= SCALE_RANGE[1])):
        raise FormatError("weights section is corrupt (scales out of range)")
    codes = decode_tensors(weights[4 * n_scales:], list(shapes.values()), cfg.weight_qmax)
    return QuantizedModel(cfg, dict(zip(shapes, codes)), dict(zip(shapes, scales[:len(shapes)].tolist())),
                          dict(zip(act_names, scales[len(shapes):].tolist())))


def read_model(coding: Coding, parts: dict[Section, bytes]) -> QuantizedModel | None:
    """The stored model of a NEURAL or MIXED archive (None for CM)."""
    return None if coding.model is None else read_weights(coding.model, parts[Section.WEIGHTS])
