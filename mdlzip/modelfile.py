"""Reusable model files (.mdlm, FORMAT.md §7): a trained model kept apart from the archives it codes.

`mdlzip train -o logs.mdlm SAMPLES...` writes one; `mdlzip compress -M logs.mdlm new.log` codes
with it without storing it (as a zstd dictionary, but a probability model), and the archive
records the file's SHA-256, so decoding with a missing or different model is a clear error,
never wrong bytes. The weights are the archive's WEIGHTS format (§3.2); no pickle anywhere.
"""
from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

from . import varint
from .errors import ChecksumError, FormatError, TruncatedError, UnsupportedVersionError
from .models.stored import QuantizedModel

MAGIC = b"\xfdMDLM\x00"
VERSION = 1
MAX_CONFIG_BYTES = 1 << 16


@dataclass(frozen=True)
class ModelFile:
    """A model file's model and its identity."""

    qm: QuantizedModel
    sha256: str  # of the whole file: what an archive coded with it records
    size: int  # bytes of the file: the model term a user would pay to ship it


def dump(qm: QuantizedModel) -> bytes:
    """The .mdlm file of a quantized model."""
    from .sections import _json, weights_section

    config, weights = _json({"model": qm.cfg.to_dict()}), weights_section(qm)
    body = bytes([VERSION]) + varint.encode(len(config)) + config + varint.encode(len(weights)) + weights
    return MAGIC + body + zlib.crc32(body).to_bytes(4, "little")


def load(blob: bytes) -> ModelFile:
    """A model file, checked (magic, version, CRC, configuration caps) before its weights are decoded."""
    from .sections import _load, read_model_config, read_weights

    blob = bytes(blob)
    if not blob.startswith(MAGIC):
        raise FormatError("not an mdlzip model file (bad magic)")
    if len(blob) < len(MAGIC) + 1 + 4:
        raise TruncatedError("model file is truncated")
    if blob[len(MAGIC)] != VERSION:
        raise UnsupportedVersionError(f"model file version {blob[len(MAGIC)]} is not supported (this mdlzip reads {VERSION})")
    body, crc = blob[len(MAGIC):-4], int.from_bytes(blob[-4:], "little")
    if zlib.crc32(body) != crc:
        raise ChecksumError("model file is corrupt (CRC mismatch)")
    n, pos = varint.decode(body, 1, len(body), "the model file")
    if n > MAX_CONFIG_BYTES or pos + n > len(body):
        raise FormatError("model file is corrupt (configuration size)")
    raw = _load(body[pos:pos + n])
    if set(raw) != {"model"}:
        raise FormatError("model file is corrupt (configuration members)")
    cfg = read_model_config(raw["model"])
    m, pos = varint.decode(body, pos + n, len(body), "the model file")
    if pos + m != len(body):
        raise FormatError("model file is corrupt (weights size)")
    return ModelFile(read_weights(cfg, body[pos:]), hashlib.sha256(blob).hexdigest(), len(blob))


def read(path: str) -> ModelFile:
    with open(path, "rb") as f:
        return load(f.read())
