"""The time budget: the cost model caps training steps, and a level trains no model it has no time for."""
from __future__ import annotations

import subprocess
import sys

import pytest

import mdlzip
from mdlzip import cost
from mdlzip.levels import LEVELS, MIN_BUDGET_SECONDS, settings
from mdlzip.levels import _run_steps
from mdlzip.training.config import ALPHA_AUTO_TRIALS, SIZE_AUTO_TRIALS, TRIAL_MAX_STEPS, auto_trials, trial_steps


def planned_seconds(plan, runs: float = 1.0) -> float:
    """The cost model's estimate of a plan: its training steps (in `runs` trainings) and its codings."""
    steps = plan.train.num_steps(-(-plan.n_bytes // plan.block))
    return (runs * steps * cost.train_step_seconds(plan.model, plan.train.batch_size)
            + cost.mixed_seconds(plan.model, plan.n_bytes) + cost.cm_seconds(plan.n_bytes))


@pytest.mark.parametrize("level", sorted(LEVELS))
@pytest.mark.parametrize("mib", [1, 16, 64, 1024])
def test_a_plan_that_trains_fits_its_budget(level, mib):
    n = mib << 20
    plan = settings(level, n)
    assert plan.budget == max(MIN_BUDGET_SECONDS, LEVELS[level].seconds_per_mb * n / 1e6)
    if plan.budget_steps >= plan.train.min_steps:
        assert planned_seconds(plan) <= plan.budget
    else:
        assert not plan.trains_model


def test_the_budget_caps_the_steps_and_more_time_buys_more():
    n = 64 << 20
    unbounded = settings(6, n, time_budget=1e9).train.num_steps(n // 128)
    steps = [settings(6, n, time_budget=t).train.num_steps(n // 128) for t in (2000, 4000, 8000)]
    assert steps[0] < steps[1] < steps[2] <= unbounded
    assert settings(6, n, time_budget=4000, trials=ALPHA_AUTO_TRIALS).budget_steps < settings(6, n, time_budget=4000).budget_steps


def test_trials_are_capped_and_the_run_gets_the_rest():
    """A trial trains a fraction of the run, at most TRIAL_MAX_STEPS; the run's steps are the most
    that fit beside its trials: all of the budget goes to training, never more."""
    assert trial_steps(1000, 0.25) == 250 and trial_steps(10**6, 0.25) == TRIAL_MAX_STEPS
    for affordable in (0, 7, 10_000, 50_000, 10**6):
        run = _run_steps(affordable, SIZE_AUTO_TRIALS)
        spent = run + sum(trial_steps(run, f) for f in SIZE_AUTO_TRIALS)
        assert spent <= affordable < spent + 4 or run == 0
    assert _run_steps(10**6, SIZE_AUTO_TRIALS) == 10**6 - 3 * TRIAL_MAX_STEPS  # large: the trials' cap, no more
    # alpha "auto" may train alpha = 0 in full beside its choice (uncapped), with its own width trials
    assert trial_steps(10**6, 1.0) == 10**6 and auto_trials(True, False) == ALPHA_AUTO_TRIALS
    assert auto_trials(True, True) == ALPHA_AUTO_TRIALS + 2 * SIZE_AUTO_TRIALS and auto_trials(False, False) == ()


def test_no_time_to_train_means_no_model_and_a_reason():
    short = settings(6, 32 << 20, time_budget=60)  # the coding alone takes longer than a minute
    assert short.budget_steps == 0 and not short.trains_model
    assert settings(6, 32 << 20).trains_model
    data = bytes(range(256)) * 8
    archive, report = mdlzip.compress_with_report(data, 7, time_budget=0.5, fallback=False)
    assert report.method == "cm" and "time budget" in report.no_model and mdlzip.decompress(archive) == data
    _, asked = mdlzip.compress_with_report(data, 1, model=True, time_budget=0.5, fallback=False)
    assert asked.train_steps >= settings(1, len(data)).train.min_steps  # a model asked for trains anyway


@pytest.mark.parametrize("value", [0, -1, float("inf"), "10", True])
def test_a_budget_must_be_seconds(value):
    with pytest.raises(mdlzip.OptionError, match="time_budget"):
        mdlzip.compress(b"x", time_budget=value)


def test_the_command_line_takes_durations(tmp_path):
    (tmp_path / "a").write_bytes(b"abc" * 100)
    run = lambda *args: subprocess.run([sys.executable, "-m", "mdlzip", *args], cwd=tmp_path, capture_output=True)
    assert run("-k", "-q", "--time-budget", "1.5m", "a").returncode == 0
    assert mdlzip.decompress((tmp_path / "a.mdlz").read_bytes()) == b"abc" * 100
    bad = run("-k", "--time-budget", "soon", "a")
    assert bad.returncode == 1 and b"duration" in bad.stderr  # a usage error (README: exit status as xz)
