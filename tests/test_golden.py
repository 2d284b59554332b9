"""Small archives of every method, written by earlier versions: they must keep decoding, and the
methods whose bytes are mdlzip's alone (cm, stored) must still be written byte for byte the same
(zstd and xz payloads may change with those libraries; the trained methods with the machine)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import mdlzip
from mdlzip import classical, container
from mdlzip.container import Method, Section

GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_golden_archive_decodes(name):
    entry, blob = MANIFEST[name], (GOLDEN / f"{name}.mdlz").read_bytes()
    assert mdlzip.info(blob).method == entry["method"]
    out = mdlzip.decompress(blob)
    assert len(out) == entry["original_bytes"] and hashlib.sha256(out).hexdigest() == entry["original_sha256"]


@pytest.mark.parametrize("name", [n for n, e in sorted(MANIFEST.items())
                                  if e["method"] in ("cm", "stored") and not e.get("members")])
def test_mdlzips_own_methods_write_the_same_bytes(name):
    entry, blob = MANIFEST[name], (GOLDEN / f"{name}.mdlz").read_bytes()
    data = mdlzip.decompress(blob)
    if entry["method"] == "cm":
        again = mdlzip.compress(data, 1 if name.endswith("_l1") else mdlzip.DEFAULT_LEVEL, fallback=False)
    else:
        again = container.pack(Method.STORED, data, [(Section.PAYLOAD, classical.ENCODERS[Method.STORED](data))])
    assert again == blob


@pytest.mark.parametrize("name", [n for n, e in sorted(MANIFEST.items()) if e.get("members")])
def test_golden_multi_member_archive_reads_member_by_member(name):
    entry, blob = MANIFEST[name], (GOLDEN / f"{name}.mdlz").read_bytes()
    with mdlzip.open_dataset(blob) as ds:
        assert len(ds.names) == entry["members"]
        joined = b"".join(ds.member(n) for n in ds.names)
    assert hashlib.sha256(joined).hexdigest() == entry["original_sha256"]
