"""`mdlzip bench` runs end to end on tiny inputs and checks every round trip."""
from __future__ import annotations

from click.testing import CliRunner

from mdlzip.bench import BASELINES, format_table, run_bench
from mdlzip.cli import main


def test_bench_rows_and_table(tmp_path, text_sample):
    (tmp_path / "a.txt").write_bytes(text_sample[:800])
    (tmp_path / "b.bin").write_bytes(bytes(range(256)) * 2)
    rows = run_bench([tmp_path], level=1, fallback=False)
    assert [r["bytes"] for r in rows] == [800, 512]
    for r in rows:
        assert r["method"] == "neural" and r["weights_bytes"] > 0 and r["data_bytes"] > 0
        assert all(r[f"{name}_bpb"] > 0 for name in BASELINES)
    table = format_table(rows).splitlines()
    assert table[0].startswith("| file |") and len(table) == 2 + len(rows)


def test_bench_command_writes_json(tmp_path, text_sample):
    (tmp_path / "a.txt").write_bytes(text_sample[:600])
    result = CliRunner().invoke(main, ["bench", "-1", str(tmp_path / "a.txt"), "--json", str(tmp_path / "o.json")])
    assert result.exit_code == 0 and "| a.txt |" in result.stdout and (tmp_path / "o.json").exists()
