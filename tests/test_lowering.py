"""One lowering, several emitters: what the torch step, the torch export, the optax export and the
card say about a genome's state all come from :func:`gp_opt.optim.lowering.lower`."""
from __future__ import annotations

import re

import pytest

from gp_opt import catalog
from gp_opt.card import state_buffers
from gp_opt.genome import OUTPUT
from gp_opt.optim.compile import compile_genome
from gp_opt.optim.export import export_source
from gp_opt.optim.lowering import lower, lower_decay
from gp_opt.optim.to_optax import optax_source


def _constant(src: str, name: str) -> str:
    return re.search(rf"^{name} = (.*)$", src, re.M).group(1)


@pytest.mark.parametrize("name", ["Adam", "Opt6", "A5", "QHM", "LR3"])
def test_every_emitter_agrees_with_the_lowering(name):
    genome = catalog.get(name)
    low = lower(genome)
    assert compile_genome(genome).state_keys == low.state_keys
    assert [b.key for b in state_buffers(genome)] == low.state_keys
    for src in (export_source(genome, name), optax_source(genome, name, latex=False)):
        assert _constant(src, "STATE_KEYS") == repr(low.state_keys)
        assert _constant(src, "NEEDS_W") == repr(low.needs_w)
        assert f"DECAYS = [{', '.join(f'decay_{k}' for k in range(len(low.edges)))}]" in src


def test_a_decay_function_is_lowered_node_by_node_each_once_output_last():
    edges = [dec for name in catalog.names() for _, _, dec in lower(catalog.get(name)).edges]
    assert edges, "the catalog has decayed edges"
    for decay in edges:
        lines, output = lower_decay(decay)
        assert [a.var for a in lines][-1] == output and lines[-1].node == OUTPUT
        assert len({a.var for a in lines}) == len(lines)
        seen = set()
        for a in lines:
            assert set(a.args) <= seen  # every input is computed before it is read
            seen.add(a.var)
