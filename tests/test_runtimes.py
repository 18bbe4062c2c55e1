"""The export runtimes are real modules (gp_opt/optim/jax_runtime.py, torch_runtime.py) and the
exports copy them.

What a generated module carries besides the genome's own update (the engine ``_Ctx``; for optax
``computed_once``, the state, the dtype helpers and the transformation; for torch the optimizer
class) is read from those modules' source, so what linters and these tests read is what every
export runs.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from gp_opt import catalog
from gp_opt.optim import torch_runtime
from gp_opt.optim.export import definitions_in, export_source
from gp_opt.optim.to_optax import optax_source, runtime_definitions


def test_every_copied_definition_is_in_the_runtime_module():
    pytest.importorskip("jax")
    pytest.importorskip("optax")
    from gp_opt.optim import jax_runtime

    assert set(jax_runtime.COPIED) <= set(runtime_definitions())


def test_an_export_carries_the_runtime_verbatim_with_the_transformation_renamed():
    src = optax_source(catalog.get("Opt6"), "Opt6", latex=False)
    defs = runtime_definitions()
    for name in ("_Ctx", "EvolvedState", "_compute_dtype", "_as_real", "_zeros_state"):
        assert defs[name] in src, name
    assert "def opt6(learning_rate, total_steps" in src and "def evolved(" not in src
    assert '"opt6: this update reads the weights' in src
    assert ("computed_once" in src) == ("computed_once(" in src.split("def update_leaf(", 1)[1])


def test_computed_once_is_copied_only_where_the_update_calls_it():
    uses = [name for name in catalog.names()
            if "= computed_once(" in optax_source(catalog.get(name), name, latex=False)]
    assert uses, "some catalog genome has a delta node or a nesterov series"
    for name in catalog.names()[:12]:
        src = optax_source(catalog.get(name), name, latex=False)
        assert (runtime_definitions()["computed_once"] in src) == (name in uses), name


def test_the_runtime_module_runs_as_plain_sgd_with_the_schedule():
    pytest.importorskip("jax")
    pytest.importorskip("optax")
    import jax.numpy as jnp

    from gp_opt.optim import jax_runtime
    from gp_opt.optim.schedules import base_lr_table

    tx = jax_runtime.evolved(learning_rate=0.5, total_steps=4, warmup_steps=2)
    state = tx.init({"w": jnp.zeros(3)})
    for t in range(3):
        updates, state = tx.update({"w": jnp.full(3, 2.0)}, state)
        assert updates["w"].tolist() == pytest.approx([-0.5 * base_lr_table(4, 2, 0)[t] * 2.0] * 3)
    assert int(state.count) == 3


def test_a_torch_export_carries_the_runtime_verbatim_with_the_class_renamed():
    src = export_source(catalog.get("Opt6"), "Opt6")
    defs = definitions_in(Path(torch_runtime.__file__))
    assert set(torch_runtime.COPIED) <= set(defs)
    assert defs["_Ctx"] in src
    assert "class Opt6(torch.optim.Optimizer):" in src and "``Opt6(params, lr, total_steps" in src
    assert "Evolved(" not in src


def test_the_torch_runtime_module_runs_as_plain_sgd_with_the_schedule():
    import torch

    from gp_opt.optim.schedules import base_lr_table

    w = torch.nn.Parameter(torch.zeros(3))
    opt = torch_runtime.Evolved([w], lr=0.5, total_steps=4, warmup_steps=2)
    expected = 0.0
    for t in range(3):
        w.grad = torch.full((3,), 2.0)
        opt.step()
        expected -= 0.5 * base_lr_table(4, 2, 0)[t] * 2.0
        assert w.tolist() == pytest.approx([expected] * 3)
