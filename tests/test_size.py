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


def test_a_level_leaves_out_a_model_its_trials_measure_cannot_pay(one_thread):
    """Level 7 trains a model at any size; on 16 KB of text the width trials measure the model alone
    far above cm's archive, so it is neither trained in full nor mixed in; asked for, it is."""
    text = (b"the quick brown fox jumps over the lazy dog; " * 400)[:16_000]
    archive, report = mdlzip.compress_with_report(text, 7, fallback=False)
    assert report.method == "cm" and "cannot pay" in report.no_model and report.train_steps == 0
    assert report.trial_seconds > 0 == report.train_seconds and "time         trials " in report.format()
    best = min(r["estimated_total_bytes"] for r in report.training["size_sweep"])
    assert best > report.archive_bytes - 100  # cm's archive, less the container's few bytes
    assert mdlzip.decompress(archive) == text
    asked = mdlzip.compress_with_report(text, 7, fallback=False, model=True)[1]
    assert asked.method == "mixed" and asked.no_model is None
    assert asked.trial_seconds > 0 and asked.train_seconds > 0  # the trials, then the training, each timed
