"""Small archives of every method, written by earlier versions: they must keep decoding, and the
methods whose bytes are mdlzip's alone (cm, stored) must still be written byte for byte the same
(zstd and xz payloads may change with those libraries; the trained methods with the machine).
Archives whose coding a format version retired (`"retired"` in the manifest: mdlzip 0.1's cm and
mixed coders) must be refused with a clear "unsupported" error, never decoded to other bytes."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import mdlzip
from mdlzip import classical, container
from mdlzip.container import Method, Section
from mdlzip.errors import UnsupportedVersionError

GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())


LIVE = sorted(n for n, e in MANIFEST.items() if not e.get("retired"))


@pytest.mark.parametrize("name", LIVE)
def test_golden_archive_decodes(name):
    entry, blob = MANIFEST[name], (GOLDEN / f"{name}.mdlz").read_bytes()
    assert mdlzip.info(blob).method == entry["method"]
    out = mdlzip.decompress(blob)
    assert len(out) == entry["original_bytes"] and hashlib.sha256(out).hexdigest() == entry["original_sha256"]


@pytest.mark.parametrize("name", sorted(n for n, e in MANIFEST.items() if e["version"] != mdlzip.FORMAT_VERSION
                                         and e.get("retired")))
def test_retired_coding_is_refused_clearly(name):
    blob = (GOLDEN / f"{name}.mdlz").read_bytes()
    with pytest.raises(UnsupportedVersionError, match=r"older mdlzip .*unsupported coder"):
        mdlzip.decompress(blob)
    if MANIFEST[name].get("members"):
        with pytest.raises(UnsupportedVersionError, match="older mdlzip"):
            mdlzip.open_dataset(blob)


def test_every_method_has_a_golden_archive_of_this_version():
    methods = {e["method"] for e in MANIFEST.values() if e["version"] == mdlzip.FORMAT_VERSION}
    assert {"cm", "mixed", "stored"} <= methods
    assert {e["method"] for e in MANIFEST.values() if not e.get("retired")} == {m.name.lower() for m in Method}


@pytest.mark.parametrize("name", [n for n in LIVE if MANIFEST[n]["method"] in ("cm", "stored")
                                  and not MANIFEST[n].get("members") and MANIFEST[n]["version"] == mdlzip.FORMAT_VERSION])
def test_mdlzips_own_methods_write_the_same_bytes(name):
    entry, blob = MANIFEST[name], (GOLDEN / f"{name}.mdlz").read_bytes()
    data = mdlzip.decompress(blob)
    if entry["method"] == "cm":
        again = mdlzip.compress(data, 1 if "_l1" in name else mdlzip.DEFAULT_LEVEL, fallback=False)
    else:
        again = container.pack(Method.STORED, data, [(Section.PAYLOAD, classical.ENCODERS[Method.STORED](data))])
    assert again == blob


@pytest.mark.parametrize("name", [n for n in LIVE if MANIFEST[n].get("members")])
def test_golden_multi_member_archive_reads_member_by_member(name):
    entry, blob = MANIFEST[name], (GOLDEN / f"{name}.mdlz").read_bytes()
    with mdlzip.open_dataset(blob) as ds:
        assert len(ds.names) == entry["members"]
        joined = b"".join(ds.member(n) for n in ds.names)
    assert hashlib.sha256(joined).hexdigest() == entry["original_sha256"]
