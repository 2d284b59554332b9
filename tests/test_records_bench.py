"""The records benchmark: grouping, the per-block baselines, the harness and its table (synthetic
log lines); the dataset builders against the shared corpora, when present."""
from __future__ import annotations

import json
import random

import pytest
from conftest import CORPORA, corpus_file

from mdlzip.lab.records_bench import (
    DATASETS,
    blocks,
    brotli_blocks,
    cap,
    csv_rows,
    group,
    json_lines,
    log_lines,
    median_fetch_ms,
    run_dataset,
    small_files,
    split_csv_rows,
    to_markdown,
    zstd_blocks,
    zstd_dict,
)


@pytest.fixture(autouse=True)
def corpora_where_conftest_finds_them(monkeypatch):
    """The builders read the corpora that `corpus_file` checked (conftest's lookup, not the lab's)."""
    monkeypatch.setenv("MDLZIP_CORPORA", str(CORPORA))


@pytest.fixture(scope="module")
def log_records() -> list[bytes]:
    """600 short log-like lines (about 40 KB): enough samples for a 16 KiB dictionary."""
    rng = random.Random(0)
    levels, verbs = ["INFO", "WARN", "ERROR"], ["started", "finished", "retried", "failed"]
    return [f"2024-03-{rng.randrange(1, 29):02d} {rng.randrange(24):02d}:{rng.randrange(60):02d} "
            f"{rng.choice(levels)} worker-{rng.randrange(16)} job {rng.randrange(10 ** 6)} "
            f"{rng.choice(verbs)}\n".encode() for _ in range(600)]


def test_group_keeps_records_whole_and_in_order(log_records):
    assert group(log_records, 0) == log_records
    for block_bytes in (1, 100, 4096, 10 ** 9):
        grouped = group(log_records, block_bytes)
        assert b"".join(grouped) == b"".join(log_records)
        assert all(len(block) >= block_bytes for block in grouped[:-1])
        ends, position = set(), 0
        for record in log_records:
            position += len(record)
            ends.add(position)
        position = 0
        for block in grouped:  # every block ends where a record ends
            position += len(block)
            assert position in ends
    assert group([], 4096) == []


def test_cap_keeps_leading_whole_records(log_records):
    kept = cap(log_records, 1000)
    assert kept == log_records[:len(kept)] and sum(map(len, kept)) <= 1000 < sum(map(len, log_records[:len(kept) + 1]))
    assert cap(log_records, 1) == log_records[:1] and cap(log_records, None) == log_records


def test_split_csv_rows_keeps_quoted_newlines():
    data = b'a,b\n1,"two\nlines"\n2,"say ""hi"""\n3,x'
    assert split_csv_rows(data) == [b"a,b\n", b'1,"two\nlines"\n', b'2,"say ""hi"""\n', b"3,x"]


def test_per_block_baselines_count_every_byte(log_records):
    grouped = group(log_records, 0)
    with_dict = zstd_dict(grouped)
    assert isinstance(with_dict["bytes"], int) and with_dict["bytes"] >= with_dict["dict_bytes"] > 0
    assert with_dict["dict_size"] == 16 << 10  # larger dictionaries than the 40 KB of samples are not tried
    plain = zstd_blocks(grouped)
    assert isinstance(plain["bytes"], int) and plain["bytes"] > with_dict["bytes"] - with_dict["dict_bytes"]
    assert plain["bpb"] == 8 * plain["bytes"] / sum(map(len, grouped))
    assert zstd_dict(grouped[:2])["bytes"] is None  # too little to train on: skipped, not an error
    brotli = brotli_blocks(grouped)
    if brotli["bytes"] is None:  # the optional package is absent
        assert "skipped" in brotli
    else:
        assert brotli["bytes"] > 0


def test_harness_and_table(log_records):
    calls = []

    def fake_mdlzip(records, block_bytes):
        calls.append(block_bytes)
        return {"bytes": 1000, "fetch_ms_median": 0.1}

    results = [run_dataset("synthetic", log_records, 0, fake_mdlzip), run_dataset("synthetic", log_records, 4096)]
    assert calls == [0]
    first, second = results
    assert first["records"] == len(log_records) == second["records"] and first["blocks"] == len(log_records)
    assert first["bytes"] == sum(map(len, log_records))
    assert first["mean_record_bytes"] == first["bytes"] / len(log_records)
    assert first["mdlzip"] == {"bytes": 1000, "fetch_ms_median": 0.1, "bpb": 8000 / first["bytes"]}
    assert "mdlzip" not in second and second["blocks"] < len(log_records)
    for key in ("zstd_dict", "zstd", "xz_solid", "zstd_solid"):
        assert isinstance(first["baselines"][key]["bytes"], int) and first["baselines"][key]["bytes"] > 0
    assert first["baselines"]["xz_solid"] == second["baselines"]["xz_solid"]  # solid: granularity plays no part
    assert json.loads(json.dumps(results)) == results
    table = to_markdown(results).split("\n\n")[0].splitlines()
    assert len(table) == 2 + len(results) and "mdlzip / zstd+dict" in table[0]
    assert table[2].startswith("| synthetic | record |") and table[3].startswith("| synthetic | 4,096 B |")
    assert "(16 KiB)" in table[2] and table[3].rstrip(" |").endswith("-")  # no mdlzip on the second row
    assert "mdlzip" not in to_markdown(results[1:])


def test_median_fetch_ms_times_seeded_indices():
    seen = []
    assert median_fetch_ms(seen.append, 50, n=20) >= 0 and len(seen) == 20 and all(0 <= i < 50 for i in seen)
    again = []
    median_fetch_ms(again.append, 50, n=20)
    assert again == seen


@pytest.mark.parametrize("name", ["HDFS_2k.log", "Apache_2k.log"])
def test_log_lines_rebuild_the_file(name):
    source = corpus_file(f"logs/{name}").read_bytes()
    lines = log_lines(name)
    assert b"".join(lines) == source and all(line.endswith(b"\n") for line in lines[:-1])
    assert len(lines) == 2000


def test_csv_rows_rebuild_the_file():
    source = corpus_file("csv/diamonds.csv").read_bytes()
    rows = csv_rows("diamonds.csv")
    assert b"".join(rows) == source and len(rows) == 53941  # the header and 53,940 rows


def test_enwik8_blocks_rebuild_the_prefix():
    source = corpus_file("enwik8/enwik8_off0_len3000000").read_bytes()
    cut = blocks(size=2048, limit=10_000)
    assert b"".join(cut) == source[:10_000] and [len(b) for b in cut] == [2048] * 4 + [10_000 - 4 * 2048]


def test_json_lines_are_compact_records():
    corpus_file("json/twitter.json")
    lines = json_lines("twitter.json")
    assert len(lines) == 100 and all(line.endswith(b"\n") and b"\n" not in line[:-1] for line in lines)
    assert json.loads(lines[0])["id"] > 0


def test_registry_and_small_files():
    corpus_file("calgary/bib")
    found = small_files()
    assert len(found) == 11 + 17 and found[0][0] == "canterbury/alice29.txt"
    assert DATASETS["logs/HDFS"]() == log_lines("HDFS_2k.log")
