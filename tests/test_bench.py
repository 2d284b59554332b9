"""`mdlzip bench`: the result's schema, round trips checked, tables, the command (tiny inputs, -1)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import mdlzip.lab.bench
from mdlzip.cli import main
from mdlzip.lab.bench import (
    BASELINES,
    Baseline,
    Config,
    RoundTripError,
    available,
    format_table,
    run_bench,
)

pytestmark = pytest.mark.usefixtures("one_thread")

TOP = {"schema", "version", "mdlzip", "created", "machine", "settings", "files"}
SETTINGS = {"configs", "baselines", "skipped", "chunk", "isolated", "prequential"}
FILE = {"file", "bytes", "sha256", "mdlzip", "baselines"}
RUN = {"config", "level", "options", "method", "archive_bytes", "bpb", "header_bytes", "model_bytes", "data_bytes",
       "sizes", "params", "nonzeros", "candidates", "train_s", "code_s", "compress_s", "decompress_s",
       "compress_peak_mb", "decompress_peak_mb", "process_base_mb", "prequential_bytes", "prequential_bpb"}
BASE = {"name", "bytes", "bpb", "compress_s", "decompress_s"}


@pytest.fixture
def corpus(tmp_path, text_sample):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "b.bin").write_bytes(bytes(range(256)) * 2)
    (folder / "a.txt").write_bytes(text_sample[:600])
    return folder


def test_result_schema_and_tables(corpus):
    result = run_bench([corpus], [Config(1, {"pure": True})], isolate=False, fallback=False)  # a directory: sorted
    assert set(result) == TOP and set(result["settings"]) == SETTINGS
    assert result["schema"] == "mdlzip-bench" and result["version"] == 1
    assert [(f["file"], f["bytes"]) for f in result["files"]] == [(str(corpus / "a.txt"), 600),
                                                                  (str(corpus / "b.bin"), 512)]
    codecs, _ = available()
    for f in result["files"]:
        assert set(f) == FILE and set(f["baselines"]) == set(codecs)
        assert all(set(b) == BASE and b["bpb"] == 8 * b["bytes"] / f["bytes"] for b in f["baselines"].values())
        (run,) = f["mdlzip"]
        assert set(run) == RUN and run["config"] == "-1 pure=True" and run["method"] == "neural"
        assert run["compress_peak_mb"] >= run["process_base_mb"] > 0
        assert run["header_bytes"] + run["model_bytes"] + run["data_bytes"] == run["archive_bytes"] == sum(
            run["sizes"].values())
        assert run["model_bytes"] > 0 and run["bpb"] == 8 * run["archive_bytes"] / f["bytes"]
    assert json.loads(json.dumps(result)) == result
    bpb, detail = format_table(result).split("\n\n")[:2]
    assert bpb.splitlines()[0] == "| file | bytes | mdlzip -1 pure=True | " + " | ".join(
        BASELINES[k].name.format(chunk=128) for k in codecs) + " |"
    assert len(bpb.splitlines()) == len(detail.splitlines()) == 4
    assert detail.startswith("| file | config | method | archive B | header B | weights B | data B | bpb |")


def test_baselines_round_trip_and_optional_ones_are_skipped(monkeypatch):
    data = bytes(range(256)) * 3 + b"abc" * 100
    lz = BASELINES["lzma2-chunks"].make(128)
    blob = lz.compress(data)
    assert lz.decompress(blob) == data and len(blob) == sum(len(lz.compress(data[i:i + 128]))
                                                           for i in range(0, len(data), 128))

    def absent(chunk):
        raise ModuleNotFoundError("no", name="nothere")
    monkeypatch.setitem(BASELINES, "ghost", Baseline("ghost -1", absent, "baselines"))
    codecs, skipped = available(["xz", "ghost"])
    assert list(codecs) == ["xz"] and "nothere" in skipped["ghost -1"] and "mdlzip[baselines]" in skipped["ghost -1"]
    with pytest.raises(ValueError, match="unknown baseline"):
        available(["nope"])


def test_a_failed_round_trip_is_an_error(corpus, monkeypatch):
    monkeypatch.setattr(mdlzip.lab.bench, "decompress", lambda archive, **options: b"not the input")
    with pytest.raises(RoundTripError, match="mdlzip -1 round trip failed"):
        run_bench([corpus / "b.bin"], [Config(1)], isolate=False)
    result = CliRunner().invoke(main, ["bench", "-1", "--no-isolate", str(corpus / "b.bin")])
    assert result.exit_code == 1 and result.stderr == f"mdlzip: {corpus / 'b.bin'}: mdlzip -1 round trip failed\n"


def test_command_options_make_configurations(corpus, monkeypatch):
    seen = {}

    def fake(paths, configs, **kw):
        seen.update(configs=[c.name for c in configs], **kw)
        return {"settings": {"configs": [], "skipped": {}, "prequential": None}, "files": []}
    monkeypatch.setattr(mdlzip.lab.bench, "run_bench", fake)
    args = ["bench", "-3", "-1", "-O", "alpha=1e-4", "--regularizer", "drr", "--variant", "", "--variant",
            "pure=true,lump-eps=0.5", "--baselines", "xz,zpaq", "--prequential", str(corpus)]
    assert CliRunner().invoke(main, args, catch_exceptions=False).exit_code == 0
    assert seen["configs"] == ["-1 alpha=0.0001 regularizer=drr", "-1 alpha=0.0001 regularizer=drr pure=True lump_eps=0.5",
                               "-3 alpha=0.0001 regularizer=drr", "-3 alpha=0.0001 regularizer=drr pure=True lump_eps=0.5"]
    assert seen["baselines"] == ["xz", "zpaq"] and seen["prequential"] == 4096 and seen["isolate"]


def test_command_isolated_with_prequential_json_and_plots(corpus, tmp_path):
    pytest.importorskip("matplotlib")
    out, plots = tmp_path / "bench.json", tmp_path / "plots"
    args = ["bench", "-1", "-T", "1", str(corpus / "a.txt"), "--baselines", "xz,lzma2-chunks", "--prequential",
            "--first-block", "256", "--json", str(out), "--plot", str(plots)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0 and result.stdout.startswith("| file | bytes | mdlzip -1 | xz -9e | LZMA2 -9e per 128 B |")
    assert "prequential bpb" in result.stdout and "peak MB" in result.stdout
    (run,) = json.loads(out.read_text())["files"][0]["mdlzip"]
    assert run["compress_peak_mb"] > run["process_base_mb"] > 0 and run["decompress_peak_mb"] > 0
    assert run["prequential_bytes"] > 256 and run["prequential_bpb"] == 8 * run["prequential_bytes"] / 600
    for name in ("bpb.png", "sizes.png"):
        assert 0 < (plots / name).stat().st_size < 100_000
