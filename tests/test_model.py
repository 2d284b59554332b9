"""Model, training schedule, pruning and levels."""
from __future__ import annotations

import torch

import mdlzip
from mdlzip.levels import LEVELS, settings
from mdlzip.models.exact import ExactByteGPT, chunk_inputs
from mdlzip.models.stored import act_scale_names, param_count, weight_layout
from mdlzip.models.transformer import ByteGPT
from mdlzip.training.config import TrainConfig
from mdlzip.training.pruning import magnitude_prune
from mdlzip.training.train import get_lr

from conftest import TINY


def test_future_bytes_do_not_change_past_predictions(tiny_qmodel):
    torch.manual_seed(0)
    float_model = ByteGPT(TINY)
    exact = ExactByteGPT(tiny_qmodel)
    a = torch.randint(0, 256, (1, TINY.block_size))
    float_model(chunk_inputs(a))  # calibrates the activation scales
    float_model.eval()
    b = a.clone()
    b[0, 20:] = (b[0, 20:] + 1) % 256
    fa, fb = float_model(chunk_inputs(a))[0], float_model(chunk_inputs(b))[0]
    assert torch.equal(fa[:, :21], fb[:, :21]) and not torch.equal(fa, fb)
    ea, eb = (exact.forward(chunk_inputs(x), exact.new_cache(1)) for x in (a, b))
    assert torch.equal(ea[:, :21], eb[:, :21]) and not torch.equal(ea, eb)


def test_the_stored_layout_is_the_models():
    """stored.py names what ByteGPT stores, without torch: the same matrices, shapes and order."""
    from dataclasses import replace
    for level in LEVELS:
        cfg = settings(level, 1 << 20).model
        for c in (cfg, replace(cfg, mlp_hidden=tuple(range(3, 3 + cfg.n_layer)))):
            with torch.device("meta"):
                model = ByteGPT(c)
            assert {k: tuple(m.weight.shape) for k, m in model.prunable().items()} == weight_layout(c)
            assert list(model.prunable()) == list(weight_layout(c))
            assert list(model.act_quants()) == act_scale_names(c)
            assert param_count(c) == sum(p.numel() for p in model.parameters())


def test_magnitude_prune_zeroes_the_smallest_half_of_each_matrix():
    torch.manual_seed(0)
    model = ByteGPT(TINY)
    magnitude_prune(model, 0.5)
    for m in model.prunable().values():
        assert abs((m.weight == 0).float().mean().item() - 0.5) < 0.01
        assert torch.equal(m.weight == 0, m.mask == 0)


def test_schedule_warms_up_then_decays():
    cfg = TrainConfig(lr=1.0, warmup_frac=0.1, min_lr_frac=0.1)
    lrs = [get_lr(s, 100, cfg) for s in range(100)]
    assert lrs[0] < lrs[9] == max(lrs) and abs(lrs[-1] - 0.1) < 0.01
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))


def test_levels_grow_and_small_inputs_get_small_models():
    sizes = [param_count(settings(level, 1 << 22).model) for level in LEVELS]
    assert sizes == sorted(sizes)
    assert param_count(settings(9, 10_000).model) < param_count(settings(9, 1 << 22).model)
    steps = [settings(6, n).train.num_steps(n // 128) for n in (1 << 18, 1 << 20)]
    assert steps[0] < steps[1]


def test_same_input_and_options_give_the_same_archive(text_sample):
    before = torch.get_num_threads()
    archives = {mdlzip.compress(text_sample, level=1, fallback=False, threads=t) for t in (1, 2, 1)}
    assert len(archives) == 1
    assert torch.get_num_threads() == before  # the library leaves the process setting as it found it
