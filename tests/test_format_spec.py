"""FORMAT.md against the code: the context kinds and MixParams ranges of 4.1, the config dictionary of 3.1."""
from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mdlzip.codec import cm_params
from mdlzip.codec.cm_params import KINDS, MixParams

FORMAT = Path(__file__).resolve().parents[1] / "FORMAT.md"
RANGE = re.compile(r"^(\S+) … (\S+)")  # "lo … hi", each a number or a quoted kind


def _tables() -> dict[str, list[list[str]]]:
    """Every Markdown table of section 4 of FORMAT.md, keyed by its header's first cell."""
    text = FORMAT.read_text(encoding="utf-8")
    sec = text[text.index("\n## 4."):]
    sec = sec[:sec.index("\n## ", 1)] if "\n## " in sec[1:] else sec
    tables, rows = {}, None
    for line in sec.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if rows is None:
                rows = tables.setdefault(cells[0], [])
            elif not set("".join(cells)) <= set("-: "):
                rows.append(cells)
        else:
            rows = None
    return tables


def _unquote(cell: str) -> str:
    assert cell.startswith("`\"") and cell.endswith("\"`"), cell
    return cell[2:-2]


def _documented_kinds() -> set[str]:
    kinds = set()
    for cells in _tables()["kind"]:
        m = RANGE.match(cells[0])
        if m:  # a range of orders: "1" … "32"
            lo, hi = int(_unquote(m[1])), int(_unquote(m[2]))
            kinds |= {str(o) for o in range(lo, hi + 1)}
        else:
            kinds.add(_unquote(cells[0]))
    return kinds


def _documented_ranges() -> dict[str, tuple[int, int]]:
    out = {}
    for cells in _tables()["field"]:
        m = RANGE.match(cells[1])
        assert m, f"no 'lo … hi' range for {cells[0]}"
        out[cells[0].strip("`")] = int(m[1]), int(m[2])
    return out


def test_kinds_table_is_the_code():
    assert _documented_kinds() == set(KINDS)
    assert set(MixParams().contexts) <= _documented_kinds()


STORED = [f.name for f in dataclasses.fields(MixParams) if f.name != "kernel"]  # "kernel": the coder's name says it


def test_fields_table_covers_mixparams():
    assert set(_documented_ranges()) == set(STORED)


@pytest.mark.parametrize("name", [n for n in STORED if n != "contexts"])
def test_int_ranges_are_what_mixparams_accepts(name, monkeypatch):
    lo, hi = _documented_ranges()[name]
    # the ranges alone: the separate 1 GiB table limit (hash_bits 28 reaches it) is lifted here
    monkeypatch.setattr(cm_params, "MAX_STATE_BYTES", 1 << 40)
    base = MixParams(hash_bits=12, match_bits=8)
    for v in (lo, hi):
        assert getattr(dataclasses.replace(base, **{name: v}), name) == v
    for v in (lo - 1, hi + 1):
        with pytest.raises(ValueError):
            dataclasses.replace(base, **{name: v})


def test_contexts_range_is_what_mixparams_accepts():
    lo, hi = _documented_ranges()["contexts"]
    kinds = list(KINDS)
    for k in (lo, hi):
        assert len(MixParams(contexts=kinds[:k]).contexts) == k
    for k in (lo - 1, hi + 1):
        with pytest.raises(ValueError):
            MixParams(contexts=kinds[:k])
    assert hi == cm_params.MAX_CONTEXTS


def test_table_limit_is_documented():
    assert cm_params.MAX_STATE_BYTES == 1 << 30
    assert "tables they\nsize at most 1 GiB" in FORMAT.read_text(encoding="utf-8")


def test_params_module_loads_no_kernel():
    """cm_params on its own (not through the package, whose API imports the coder) imports
    neither numba nor torch."""
    code = ("import importlib.util, sys; "
            f"spec = importlib.util.spec_from_file_location('cm_params_alone', {cm_params.__file__!r}); "
            "m = sys.modules['cm_params_alone'] = importlib.util.module_from_spec(spec); "
            "spec.loader.exec_module(m); m.MixParams(); "
            "print('numba' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "False"]


def test_format_lists_the_config_dictionaries_byte_for_byte():
    from mdlzip.container import CONFIG_DICTIONARIES

    text = FORMAT.read_text(encoding="utf-8")
    sec = text[text.index("### 3.1 config"):]
    block = sec[sec.index("```text\n") + len("```text\n"):sec.index("\n```", sec.index("```text\n"))]
    v4 = CONFIG_DICTIONARIES[4]
    assert "".join(block.splitlines()).encode("ascii") == v4
    assert f"{len(v4):,} bytes of ASCII" in sec
    # version 5's: version 4's with the replacements FORMAT.md names (each a `"old"` by `"new"`)
    said = " ".join(sec[sec.index("version 5's is the same"):sec.index(" A reader")].split())
    v5 = v4
    for old, new in re.findall(r"`([^`]+)`(?: replaced)? by `([^`]+)`", said):
        v5 = v5.replace(old.encode(), new.encode())
    assert v5 == CONFIG_DICTIONARIES[5] != v4
    assert f"{len(v5):,} bytes" in said
