"""Write the golden archives of the current format version into tests/golden/ (and its manifest).

Run after a format change that bumps FORMAT_VERSION (never otherwise: the golden archives are the
promise that what was written keeps decoding). Archives of earlier versions stay where they are,
with their manifest entries; this adds or replaces the current version's, from `--originals`, a
folder of the original bytes (NAME.bin; for multi-member archives NAME.json, a list of [name, hex]).

    python scripts/make_golden.py --originals DIR
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import mdlzip
from mdlzip import classical, container
from mdlzip.container import Method, Section

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"

# name -> (how it is made, as the manifest says it, the call)
SINGLE = {
    "cm_text": ("compress(text, fallback=False)", lambda d: mdlzip.compress(d, fallback=False)),
    "cm_lines_l1": ("compress(lines, 1, fallback=False)", lambda d: mdlzip.compress(d, 1, fallback=False)),
    "cm_image": ("compress(bitmap, fallback=False)", lambda d: mdlzip.compress(d, fallback=False)),  # tests/test_image_context.bitmap()
    "mixed_l1": ("compress(text[:2000], 1, model=True, fallback=False, threads=1)",
                 lambda d: mdlzip.compress(d, 1, model=True, fallback=False, threads=1)),
    "mixed_lump": ("compress(lines[:1500], 1, model=True, lump_eps=0.05, fallback=False, threads=1)",
                   lambda d: mdlzip.compress(d, 1, model=True, lump_eps=0.05, fallback=False, threads=1)),
    "stored": ("container.pack(STORED, rand, ...)",
               lambda d: container.pack(Method.STORED, d, [(Section.PAYLOAD, classical.ENCODERS[Method.STORED](d))])),
}
MEMBERS = {
    "members_cm": ("compress_dataset(members, 1, model=False)",
                   lambda items: mdlzip.compress_dataset(items, 1, model=False)),
    "members_mixed": ("compress_dataset([(\"x.log\", log_lines(300, seed=7))], 1, records_kind=\"lines\", "
                      "block_size=0, model=True, threads=1)",
                      lambda items: mdlzip.compress_dataset(items, 1, records_kind="lines", block_size=0, model=True,
                                                            threads=1)),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--originals", type=Path, required=True)
    args = ap.parse_args()
    manifest_path = GOLDEN / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    v = container.FORMAT_VERSION
    for name, (made_by, make) in {**SINGLE, **MEMBERS}.items():
        if name in MEMBERS:
            items = [(n, bytes.fromhex(h)) for n, h in json.loads((args.originals / f"{name}.json").read_text())]
            blob, data = make(items), b"".join(d for _, d in items)
        else:
            data = (args.originals / f"{name}.bin").read_bytes()
            blob = make(data)
        assert mdlzip.decompress(blob) == data
        key = f"{name}_v{v}"
        (GOLDEN / f"{key}.mdlz").write_bytes(blob)
        manifest[key] = {"method": mdlzip.info(blob).method, "version": v, "original_bytes": len(data),
                         "original_sha256": hashlib.sha256(data).hexdigest(), "made_by": made_by}
        if name in MEMBERS:
            manifest[key]["members"] = len(items)
        print(f"{key}: {len(blob)} bytes")
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
