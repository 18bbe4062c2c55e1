"""export_torch writes a torch-only module that steps exactly like EvolvedOptimizer."""
from __future__ import annotations

import ast
import importlib.util
import sys

import numpy as np
import pytest
import torch

from gp_opt import catalog
from gp_opt.optim import EvolvedOptimizer, export_torch

from support.optimizers import CASES as ALL_CASES
from support.optimizers import hand_genome, problem


def _import(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CASES = {name: ALL_CASES[name] for name in
         ("Opt6", "Opt10", "A5", "LR3", "QHM", "constants", "stateful_momentum", "flipped", "random_stateful")}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_exported_module_steps_exactly_like_evolved_optimizer(case, dtype, tmp_path):
    genome = CASES[case]()
    path = tmp_path / f"exported_{case}.py"
    src = export_torch(genome, path, name=case)
    tree = ast.parse(src)
    imports = {a.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
               for a in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
    assert imports <= {"math", "torch"}, imports
    assert "gp_opt" not in src.split('"""', 2)[2]  # the code (past the docstring) never imports gp_opt
    mod = _import(path, f"exported_{case}_{str(dtype)[6:]}")
    cls = next(v for k, v in vars(mod).items() if isinstance(v, type) and issubclass(v, torch.optim.Optimizer)
               and v is not torch.optim.Optimizer)
    w0, _, loss = problem(4)
    ps = [torch.nn.Parameter(torch.tensor(w, dtype=dtype)) for w in w0]
    qs = [torch.nn.Parameter(torch.tensor(w, dtype=dtype)) for w in w0]
    a = EvolvedOptimizer(ps, genome, lr=0.01, total_steps=60, warmup_steps=5, hold_steps=2)
    b = cls(qs, lr=0.01, total_steps=60, warmup_steps=5, hold_steps=2)
    for _ in range(50):
        for opt, params in ((a, ps), (b, qs)):
            opt.zero_grad()
            loss(params).backward()
            opt.step()
    for p, q in zip(ps, qs):
        assert torch.isfinite(p).all()
        torch.testing.assert_close(p, q, rtol=1e-6 if dtype == torch.float32 else 1e-12,
                                   atol=1e-7 if dtype == torch.float32 else 1e-14)
    # same per-parameter state format: the exported optimizer resumes an EvolvedOptimizer run
    assert set(a.state[ps[0]]) == set(b.state[qs[0]])


def test_export_docstring_has_the_latex_and_the_source_compiles(tmp_path):
    src = export_torch(catalog.get("Opt6"), None)
    doc = ast.get_docstring(ast.parse(src))
    assert "Opt6" in doc and "\\operatorname{erfc}" in doc and "Learning-rate factor" in doc
    assert "def update(" in src and "torch.exp(" in src
    assert not (tmp_path / "x.py").exists()
