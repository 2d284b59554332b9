"""Training on several processes (torch.distributed, gloo between CPU processes, as torchrun starts
them): every rank ends with the same model, rank 0 alone writes, and what it writes decodes in one
ordinary process."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import replace

import pytest
import torch
import torch.multiprocessing as mp
from click.testing import CliRunner
from conftest import TINY

import mdlzip
from mdlzip import modelfile
from mdlzip.cli import main
from mdlzip.lab.synthetic import markov_source
from mdlzip.models.transformer import ByteGPT
from mdlzip.training import distributed
from mdlzip.training.config import TrainConfig
from mdlzip.training.train import fit

WORLD = 2
DEADLINE = 300  # seconds: a collective that some rank never joins would otherwise wait for hours (distributed.WAIT)
FIT = TrainConfig(min_steps=20, max_steps=20, regularizer="rl1", alpha=1e-3, tamade_chunks=8)  # prunes at step 6 of 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, port: int, out: str) -> None:
    """One process of the group: what torchrun would give it, then a fit, a compression and a model file."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    text = markov_source(12_000, seed=2)[0]
    with distributed.process_group("cpu") as device:
        torch.manual_seed(0)
        model = ByteGPT(TINY)
        stats = fit(model, text[:3000], FIT, torch.device(device))
        # level 7 trains its own model at any size: the width trials, cm's decision and the final training
        archive, report = mdlzip.compress_with_report(text, 7, fallback=False, threads=1)
        blob = mdlzip.train_model([("t", text[:3000])], 1, threads=1)
    torch.save({"state": model.state_dict(), "loss": stats.final_loss_bits, "steps": stats.steps,
                "batch": stats.batch_size, "archive": archive, "report": report and report.to_dict(), "model": blob},
               os.path.join(out, f"rank{rank}.pt"))


def test_two_ranks_train_one_model_and_rank_0_writes(tmp_path):
    ranks = mp.spawn(_rank, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=False)
    started = time.monotonic()
    while not ranks.join(timeout=5):
        if time.monotonic() - started > DEADLINE:
            for process in ranks.processes:
                process.kill()
            pytest.fail(f"the ranks did not finish in {DEADLINE} s")
    first, second = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(WORLD))
    assert first["state"].keys() == second["state"].keys()
    for name, tensor in first["state"].items():  # weights, masks and activation scales
        assert torch.equal(tensor, second["state"][name]), name
    assert first["loss"] != second["loss"]  # each rank trained on its own shard of the chunks ...
    assert first["steps"] == 10 and first["batch"] == WORLD * FIT.batch_size  # ... twice the chunks per step
    assert (first["state"]["h.0.attn.q.mask"] == 0).any()  # rank 0's pruning reached both
    report = first["report"]
    assert report["training"]["size_sweep"] or report["no_model"]  # the width trials ran (and may leave it out)
    assert mdlzip.decompress(first["archive"]) == markov_source(12_000, seed=2)[0]
    assert modelfile.load(first["model"]).qm.cfg.block_size > 0
    assert second["archive"] is second["report"] is second["model"] is None  # the other rank writes nothing


def test_torchrun_compress_writes_one_archive_that_decodes_in_one_process(tmp_path, text_sample):
    (tmp_path / "x").write_bytes(text_sample[:600])
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={WORLD}",
                          "-m", "mdlzip", "compress", "--distributed", "-1", "--pure", "--alpha", "auto",
                          "--no-fallback", "-T1", "--json", "-o", "x.mdlz", "x"],
                         cwd=tmp_path, env=dict(os.environ), capture_output=True, timeout=DEADLINE)
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    report = json.loads(run.stdout)  # one report: rank 0's
    sweep = report["training"]["alpha_sweep"]
    trials, full = [r for r in sweep if not r.get("full")], [r for r in sweep if r.get("full")]
    assert report["method"] == "neural" and len(trials) == 4
    chosen = min(trials, key=lambda r: r["total_bytes"])["alpha"]  # where > 0, alpha 0 trained in full beside it
    assert [r["alpha"] for r in full] == ([chosen, 0.0] if chosen else []) and sum("kept" in r for r in full) == len(full) // 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x", "x.mdlz"]
    plain = subprocess.run([sys.executable, "-m", "mdlzip", "decompress", "-c", "x.mdlz"], cwd=tmp_path,
                           capture_output=True, timeout=DEADLINE)
    assert plain.returncode == 0 and plain.stdout == text_sample[:600]


def _usage(*args, env=None):
    result = CliRunner(env=env).invoke(main, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    return result.stderr.strip().splitlines()[-1]


def test_distributed_needs_torchrun_and_one_training(tmp_path):
    (tmp_path / "a").write_bytes(b"a" * 100)
    (tmp_path / "b").write_bytes(b"b" * 100)
    a, b = tmp_path / "a", tmp_path / "b"
    assert "WORLD_SIZE is not set" in _usage("compress", "--distributed", a, env={"WORLD_SIZE": None})
    assert "WORLD_SIZE is not set" in _usage("train", "--distributed", "-o", tmp_path / "m", a, env={"WORLD_SIZE": None})
    launched = {"WORLD_SIZE": "2"}  # refused before any process group is joined
    assert "-0 trains no model" in _usage("compress", "--distributed", "-0", a, env=launched)
    assert "standard input and output" in _usage("compress", "--distributed", "-c", a, env=launched)
    assert "several inputs need -o" in _usage("compress", "--distributed", a, b, env=launched)
    assert "-M codes with a model" in _usage("compress", "--distributed", "-M", a, a, env=launched)
    assert not (tmp_path / "a.mdlz").exists()


def test_larger_batches_keep_the_passes_and_the_trials_fractions():
    cfg = TrainConfig(min_steps=50, max_steps=1000)
    assert cfg.scaled(1) == cfg  # one process on the CPU: the training of old
    four = cfg.scaled(4)
    assert (four.batch_size, four.lr, four.min_steps, four.max_steps) == (64, 2 * cfg.lr, 13, 250)
    assert four.num_steps(10_000) == 250 and cfg.num_steps(10_000) == 1000  # the same chunks trained
    trial = replace(cfg, max_steps=cfg.max_steps // 4)  # a quarter of the steps stays a quarter (rounded up)
    assert trial.scaled(4).num_steps(10_000) == 63
