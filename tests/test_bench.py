"""`mdlzip bench`: rows with every round trip checked, the Markdown table, the command (tiny inputs, -1)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import mdlzip.bench
from mdlzip.bench import BASELINES, COLUMNS, RoundTripError, format_table, run_bench
from mdlzip.cli import main


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def corpus(tmp_path, text_sample):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "b.bin").write_bytes(bytes(range(256)) * 2)
    (folder / "a.txt").write_bytes(text_sample[:600])
    return folder


def test_rows_and_table(corpus):
    rows = run_bench([corpus], level=1, fallback=False)  # a directory: its files, sorted
    assert [(row["file"], row["bytes"]) for row in rows] == [(str(corpus / "a.txt"), 600), (str(corpus / "b.bin"), 512)]
    for row in rows:
        assert row["method"] == "neural" and row["weights_bytes"] > 0 and row["data_bytes"] > 0
        assert row["mdlzip_bpb"] == 8 * row["mdlzip_bytes"] / row["bytes"]
        assert all(row[f"{name.split()[0]}_bpb"] > 0 for name in BASELINES)
        assert row["compress_s"] > 0 and row["decompress_s"] > 0
    lines = format_table(rows).splitlines()
    assert lines[0] == "| " + " | ".join(COLUMNS) + " |" and len(lines) == 2 + len(rows)
    assert lines[0].startswith("| file | bytes | mdlzip bytes | mdlzip bpb | method | neural bpb | weights B | data B | xz -9e bpb")
    assert all(line.count("|") == len(COLUMNS) + 1 for line in lines)
    assert json.loads(json.dumps(rows)) == rows


def test_a_failed_round_trip_is_an_error(corpus, monkeypatch):
    monkeypatch.setattr(mdlzip.bench, "decompress", lambda archive, **options: b"not the input")
    with pytest.raises(RoundTripError, match="mdlzip round trip failed"):
        run_bench([corpus / "b.bin"], level=1)
    result = CliRunner().invoke(main, ["bench", "-1", str(corpus / "b.bin")])
    assert result.exit_code == 1 and result.stderr == f"mdlzip: {corpus / 'b.bin'}: mdlzip round trip failed\n"


def test_command_prints_table_and_writes_json(corpus, tmp_path):
    out = tmp_path / "rows.json"
    result = CliRunner().invoke(main, ["bench", "-1", str(corpus / "a.txt"), "--json", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0 and result.stdout.startswith("| file |")
    assert f"| {corpus / 'a.txt'} | 600 |" in result.stdout
    assert [row["bytes"] for row in json.loads(out.read_text())] == [600]
