"""Neuron lumping: exactness at eps = 0, scaled merges, constant folding, monotonicity, baselines."""
from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from mdlzip.lab.dynamics import SYSTEMS, make_task
from mdlzip.lab.lumping import count_nonzero, count_params, lump, magnitude_prune, wanda_prune
from mdlzip.models.lump import lump_mlp_weights


def mlp(*widths: int, act: type[nn.Module] = nn.ReLU, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers += [nn.Linear(a, b)] + ([act()] if i < len(widths) - 2 else [])
    return nn.Sequential(*layers)


@torch.no_grad()
def with_duplicates(net: nn.Sequential) -> nn.Sequential:
    """Neuron 3 duplicates 1 and neuron 5 is 2.5 x neuron 2 in the first hidden layer; 4 duplicates 0 in the second."""
    net[0].weight[3], net[0].bias[3] = net[0].weight[1], net[0].bias[1]
    net[0].weight[5], net[0].bias[5] = 2.5 * net[0].weight[2], 2.5 * net[0].bias[2]
    net[2].weight[4], net[2].bias[4] = net[2].weight[0], net[2].bias[0]  # equal only after layer 1 merged
    net[2].weight[4, [1, 3]] = net[2].weight[0, [3, 1]]
    return net


@pytest.mark.parametrize("act", [nn.ReLU, nn.Tanh, nn.Sigmoid])
def test_eps0_merges_exact_duplicates_and_keeps_outputs(act):
    net = with_duplicates(mlp(3, 8, 6, 2, act=act))
    x = torch.randn(200, 3)
    small, rep = lump(net, 0.0, scaled=False, inputs=x)
    assert rep.neurons_before == [8, 6] and rep.neurons_after == [7, 5]  # duplicates over merged blocks too
    assert rep.params_after == count_params(small) < rep.params_before
    assert torch.allclose(small(x), net(x), atol=1e-6) and rep.max_abs_dev < 1e-6


def test_scaled_merges_positively_proportional_relu_neurons():
    net = with_duplicates(mlp(3, 8, 6, 2))
    with torch.no_grad():
        net[0].weight[7], net[0].bias[7] = -net[0].weight[2], -net[0].bias[2]  # negative factor: never merged
    x = torch.randn(200, 3)
    small, rep = lump(net, 0.0, scaled=True, inputs=x)
    assert rep.neurons_after[0] == 6
    assert torch.allclose(small(x), net(x), atol=1e-5)
    tanh = with_duplicates(mlp(3, 8, 6, 2, act=nn.Tanh))  # not homogeneous: the plain test only
    assert lump(tanh, 0.0, scaled=True)[1].neurons_after[0] == 7


def test_constant_neurons_fold_into_the_next_bias():
    net = mlp(3, 8, 6, 2, act=nn.Sigmoid)
    with torch.no_grad():
        net[0].weight[[2, 6]] = 0  # sigmoid(b) whatever the input
    x = torch.randn(100, 3)
    small, rep = lump(net, 0.0, inputs=x)
    assert rep.neurons_after == [6, 6]
    assert torch.allclose(small(x), net(x), atol=1e-6)
    expected = net[2].bias + net[2].weight[:, [2, 6]] @ torch.sigmoid(net[0].bias[[2, 6]])
    assert torch.allclose(small[2].bias, expected)


def test_larger_eps_never_gives_more_neurons():
    net = mlp(4, 32, 32, 3)
    for scaled in (False, True):
        counts = [sum(lump(net, eps, scaled=scaled)[1].neurons_after) for eps in torch.linspace(0, 6, 25).tolist()]
        assert counts == sorted(counts, reverse=True) and counts[0] == 64 and counts[-1] < 64


def test_forward_mode_exact_for_linear_layers_only():
    net = mlp(3, 8, 6, 2, act=nn.Identity)
    with torch.no_grad():
        net[2].weight[:, 3] = net[2].weight[:, 1]  # equal outgoing columns
        net[2].weight[:, 5] = 2.0 * net[2].weight[:, 0]  # proportional outgoing columns
    x = torch.randn(100, 3)
    _, rep = lump(net, 0.0, mode="forward", inputs=x)
    assert rep.neurons_after == [6, 6] and rep.max_abs_dev < 1e-5
    relu = mlp(3, 8, 6, 2)
    relu[2].weight.data[:, 3] = relu[2].weight.data[:, 1]
    assert lump(relu, 0.0, mode="forward", scaled=False)[1].neurons_after == [7, 6]


@pytest.mark.parametrize("n_params", [150, 400, 700])
def test_baselines_hit_the_requested_nonzero_count(n_params):
    net = mlp(4, 32, 16, 3)
    x = torch.randn(64, 4)
    for pruned, nnz in (magnitude_prune(net, n_params), wanda_prune(net, n_params, x)):
        assert nnz == count_nonzero(pruned) == n_params
        assert all(torch.equal(a.bias, b.bias) for a, b in zip(pruned[::2], net[::2]))
    assert count_nonzero(net) > 700


def test_wanda_prunes_every_row_by_the_same_fraction():
    net = mlp(10, 20, 3)
    pruned, _ = wanda_prune(net, count_nonzero(net) - 130, torch.randn(32, 10))  # half of the 260 weights
    zeros = [(lin.weight == 0).sum(1) for lin in pruned[::2]]
    assert torch.equal(zeros[0], torch.full((20,), 5)) and torch.equal(zeros[1], torch.full((3,), 10))


def transformer_mlp(fc: torch.Tensor, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.relu(x @ fc.T) @ out.T


def test_transformer_helper_preserves_the_mlp_at_eps0():
    torch.manual_seed(0)
    d, h = 16, 64
    fc, out = torch.randn(h, d) * (torch.rand(h, d) < 0.5), torch.randn(d, h)
    fc[10], fc[11], fc[12] = fc[3], 3.0 * fc[4], 0.5 * fc[4]  # duplicate, proportional x2
    fc[20] = 0  # dead: no incoming weight
    out[:, 30] = 0  # dead: no outgoing weight
    x = torch.randn(256, d)
    fc2, out2, merged = lump_mlp_weights(fc, out, 0.0)
    assert merged == 5 and fc2.shape == (h - 5, d) and out2.shape == (d, h - 5)
    assert torch.allclose(transformer_mlp(fc2, out2, x), transformer_mlp(fc, out, x), atol=1e-4)
    assert torch.relu(x @ fc2.T).amax() <= torch.relu(x @ fc.T).amax() + 1e-5  # activation range not increased
    assert lump_mlp_weights(fc, out, 0.0, scaled=False)[2] == 3


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_dynamics_tasks_have_their_ground_truth(name):
    task = make_task(name, n_train=200, n_test=100, seed=0)
    assert task.x_train.shape == (200, SYSTEMS[name].dim) and task.y_test.shape == (100, SYSTEMS[name].dim)
    assert torch.isfinite(task.x_train).all() and torch.isfinite(task.y_train).all()
    assert task.x_train.mean(0).abs().max() < 1e-4  # standardized
    x = task.x_test * task.x_std + task.x_mean
    y = SYSTEMS[name].f(x.double()).float()
    assert torch.allclose(task.y_test * task.y_std + task.y_mean, y, rtol=1e-4, atol=1e-5)
