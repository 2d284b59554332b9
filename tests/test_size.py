"""--size auto: the model's width is the candidate of the smallest measured total."""
from __future__ import annotations

import pytest

import mdlzip
from mdlzip.lab.synthetic import markov_source


@pytest.fixture(scope="module")
def data() -> bytes:
    return markov_source(12_000, seed=3)[0]  # 188 chunks of 64 bytes at level 1: 18 held back


def test_auto_keeps_the_width_of_the_smallest_measured_total(one_thread, data):
    archive, report = mdlzip.compress_with_report(data, 1, model=True, fallback=False)
    rows = report.training["size_sweep"]
    assert len(rows) >= 2 and len({r["n_embd"] for r in rows}) == len(rows)
    best = min(rows, key=lambda r: r["estimated_total_bytes"])
    assert report.method == "mixed" and report.model["n_embd"] == best["n_embd"]  # no fallback: the model's archive
    assert mdlzip.decompress(archive) == data
    assert f"{best['n_embd']} (chosen)" in report.format()
    level = mdlzip.compress_with_report(data, 1, model=True, fallback=False, size="level")[1]
    assert level.training["size_sweep"] is None and level.model["n_embd"] == rows[0]["n_embd"]  # the level's width


@pytest.mark.parametrize("size", ["big", "", None, 64])
def test_size_is_auto_or_level(size):
    with pytest.raises(mdlzip.OptionError, match="size"):
        mdlzip.compress(b"x", size=size)
