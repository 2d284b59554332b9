"""Options are checked where they enter: a typo, a misplaced option or a bad value fails at the call."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import mdlzip
from mdlzip.cli import main
from mdlzip.errors import OptionError, UnknownOptionError

DATA = b"options are checked where they enter\n" * 20


@pytest.mark.parametrize("bad", [{"regularizr": "drr"}, {"preset": 1}, {"bogus": 1}])
def test_unknown_option_is_an_error_at_the_call(bad):
    with pytest.raises(UnknownOptionError, match=repr(next(iter(bad)))) as info:
        mdlzip.compress(DATA, level=1, **bad)
    assert isinstance(info.value, (TypeError, ValueError, mdlzip.MdlzipError))
    with pytest.raises(UnknownOptionError):
        mdlzip.compress_with_report(DATA, 1, **bad)


def test_a_typo_gets_a_suggestion():
    with pytest.raises(UnknownOptionError, match="did you mean 'regularizer'"):
        mdlzip.compress(DATA, regularizr="drr")
    with pytest.raises(UnknownOptionError, match="the level is the argument after the data"):
        mdlzip.compress(DATA, preset=9)


@pytest.mark.parametrize("level", [-1, 10, "6", 6.0, True, None])
def test_bad_levels(level):
    with pytest.raises(OptionError, match="level must be an integer from 0 to 9"):
        mdlzip.compress(DATA, level=level)


@pytest.mark.parametrize("bad", [
    {"alpha": -1}, {"alpha": "often"}, {"alpha": float("nan")}, {"beta": 0}, {"tolerance": -0.1},
    {"prelude_frac": 1.5}, {"prelude_frac": 0.7, "finetune_frac": 0.6}, {"lump_eps": -1},
    {"regularizer": "l0"}, {"threads": -1}, {"threads": 1.5}, {"device": "gpu"}, {"device": "cpu:0"},
    {"fallback": "no"}, {"model": 1}, {"pure": None},
])
def test_out_of_range_values_fail_on_every_path(bad):
    """Level 1 on a tiny input writes cm without training: the values are checked all the same."""
    with pytest.raises(OptionError):
        mdlzip.compress(DATA, level=1, **bad)


def test_model_false_with_a_model_option_is_an_error():
    for given in ({"regularizer": "drr"}, {"pure": True}, {"lump_eps": 0.0}, {"alpha": "auto"}):
        with pytest.raises(OptionError, match="needs a trained model"):
            mdlzip.compress(DATA, level=1, model=False, **given)


def test_a_model_option_trains_a_model_where_the_level_would_not():
    _, plain = mdlzip.compress_with_report(DATA, level=1, fallback=False)
    assert plain.method == "cm" and plain.train_steps == 0
    assert "16 MiB" in plain.no_model and "--model" in plain.format()
    archive, report = mdlzip.compress_with_report(DATA, level=1, fallback=False, regularizer="drr")
    assert report.method == "mixed" and report.train_steps > 0 and report.training["regularizer"] == "drr"
    assert report.no_model is None and mdlzip.decompress(archive) == DATA


def test_decompress_options():
    archive = mdlzip.compress(DATA, level=1)
    assert mdlzip.decompress(archive, threads=0, device="cpu") == DATA
    with pytest.raises(OptionError, match="compression option"):
        mdlzip.decompress(archive, level=1)
    with pytest.raises(OptionError, match="compression option"):
        mdlzip.decompress(archive, pure=True)
    with pytest.raises(UnknownOptionError, match="did you mean 'threads'"):
        mdlzip.decompress(archive, thread=1)


def test_threads_zero_means_all_cores_everywhere(text_sample):
    from mdlzip.lab.prequential import prequential_code_length
    data = text_sample[:600]
    for kw in ({}, {"model": True}, {"pure": True}):
        archive = mdlzip.compress(data, level=1, threads=0, fallback=False, **kw)
        assert mdlzip.decompress(archive, threads=0) == data
    assert prequential_code_length(data, level=1, first_block=300, threads=0, device="cpu").total_bytes > 0


def test_open_checks_its_options_at_construction(tmp_path):
    path = tmp_path / "a.mdlz"
    path.write_bytes(mdlzip.compress(DATA, level=1))
    with pytest.raises(OptionError, match="'level' is a compression option"):
        mdlzip.open(path, "rb", level=1)
    with pytest.raises(OptionError, match="compression option"):
        mdlzip.open(path, "rb", regularizer="drr")
    with pytest.raises(UnknownOptionError):
        mdlzip.open(tmp_path / "b.mdlz", "wb", regularizr="drr")
    with pytest.raises(OptionError):
        mdlzip.open(tmp_path / "b.mdlz", "wb", level=10)
    assert not (tmp_path / "b.mdlz").exists()  # refused before the file was created
    for mode in ("rw", "wa", "abt"):
        with pytest.raises(ValueError, match="Invalid mode"):
            mdlzip.open(path, mode)
    assert mdlzip.decompress(path.read_bytes()) == DATA


def test_cli_model_option_trains_and_bad_combination_is_a_usage_error(tmp_path):
    src = tmp_path / "x.txt"
    src.write_bytes(DATA)
    out = CliRunner().invoke(main, ["compress", "-1", "-q", "--json", "--regularizer", "drr", "-o",
                                    str(tmp_path / "x.mdlz"), str(src)])
    assert out.exit_code == 0 and json.loads(out.stdout)["method"] in ("mixed", "stored", "zstd", "xz")
    assert json.loads(out.stdout)["candidates"].get("mixed")  # a model was trained and its archive made
    bad = CliRunner().invoke(main, ["compress", "-1", "--prelude", "0.8", "--finetune", "0.5", str(src)])
    assert bad.exit_code == 1 and "finetune_frac" in bad.stderr and not (tmp_path / "x.txt.mdlz").exists()
