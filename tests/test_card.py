"""The optimizer card (gp_opt.card): buffers against the torch state, kernel counts, cost."""
import time

import numpy as np
import pytest
import torch

from gp_opt import catalog
from gp_opt.card import card, card_lines, count_kernels, state_buffers
from gp_opt.genome import OptimizerGenome
from gp_opt.optim import EvolvedOptimizer


def _state_per_parameter(genome) -> float:
    """Elements of state the torch optimizer holds after one step / elements of parameters."""
    torch.manual_seed(0)
    params = [torch.randn(3, 4, requires_grad=True), torch.randn(5, requires_grad=True)]
    opt = EvolvedOptimizer(params, genome, lr=1e-3, total_steps=10)
    for p in params:
        p.grad = torch.randn_like(p)
    opt.step()
    held = sum(v.numel() for p in params for v in opt.state[p].values() if isinstance(v, torch.Tensor))
    return held / sum(p.numel() for p in params)


@pytest.mark.parametrize("name", catalog.names())
def test_buffers_equal_torch_state_catalog(name):
    genome = catalog.get(name)
    assert len(state_buffers(genome)) == _state_per_parameter(genome)


def test_buffers_equal_torch_state_random_genomes():
    rng = np.random.default_rng(23)
    counts = []
    for _ in range(200):
        genome = OptimizerGenome.random(rng)
        n = len(state_buffers(genome))
        assert n == _state_per_parameter(genome), genome
        counts.append(n)
    assert len(set(counts)) >= 3   # the draw covers several buffer counts, not one case 200 times


def test_known_buffers_and_kernels():
    adam, sgd, nesterov = (catalog.get(n) for n in ("Adam", "SGD", "Nesterov"))
    assert [b.key for b in state_buffers(adam)] == ["v", "s"]
    assert state_buffers(sgd) == []
    assert [b.key for b in state_buffers(nesterov)] == ["m"]
    # SGD: U = g times -lr, one kernel; Nesterov: m <- mu m - lr g (two), then mu m - lr g (two)
    assert sum(count_kernels(sgd)[0].values()) == 1
    assert sum(count_kernels(nesterov)[0].values()) == 4
    # Adam: two lerps, g^2, two bias corrections, |.|, sqrt, + eps, divide, times -lr
    kernels, moves = count_kernels(adam)
    assert sum(kernels.values()) == 10 and kernels["lerp_"] == 2 and not moves


def test_stateful_op_counted_with_its_copy():
    rng = np.random.default_rng(0)
    for _ in range(300):   # a random genome with an active ema/delta/running_max node
        genome = OptimizerGenome.random(rng)
        nodes = [b for b in state_buffers(genome) if b.holds.startswith("state of")]
        if nodes:
            break
    else:
        pytest.skip("no stateful node drawn")
    assert sum(count_kernels(genome)[1].values()) >= len(nodes)   # each writes its buffer back


def test_card_costs_under_a_second_per_genome():
    card(catalog.get("SGD"))   # imports and first compile out of the way
    names = catalog.names()
    t0 = time.perf_counter()
    cards = [card(catalog.get(n)) for n in names]
    assert (time.perf_counter() - t0) / len(names) < 1.0
    assert all(c.time_ratio is None for c in cards)   # no timing unless asked
    assert card_lines(cards[names.index("Adam")])[0].startswith("state buffers per parameter: 2")


def test_show_prints_the_card_and_times_only_when_asked(capsys):
    from gp_opt.cli import main
    assert main(["show", "Opt6"]) == 0
    out = capsys.readouterr().out
    assert "state buffers per parameter: 1 (v:" in out and "elementwise kernels per step:" in out
    assert "step time" not in out
    with pytest.raises(SystemExit) as exc:   # a size below the floor: one line, exit 2
        main(["show", "Opt6", "--time", "12"])
    assert exc.value.code == 2
    assert "--time" in capsys.readouterr().err


def test_step_time_ratio_measured():
    from gp_opt.card import step_time_ratio
    ratio = step_time_ratio(catalog.get("SGD"), numel=4096, tensors=2, rounds=2, steps=2)
    assert 0 < ratio < float("inf")
