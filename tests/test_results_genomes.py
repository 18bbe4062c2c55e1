"""The genomes committed under results/ stay loadable and usable as the package changes: each one
loads, prints, and takes finite steps as a torch optimizer."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gp_opt import catalog, symbolic
from gp_opt.optim import EvolvedOptimizer

ROOT = Path(__file__).resolve().parent.parent / "results"
FILES = sorted(p for p in ROOT.glob("digits-*/genomes/*.json"))


def test_there_are_committed_genomes():
    assert len(FILES) >= 4


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_committed_genome_loads_prints_and_steps(path):
    genome = catalog.load_file(path)
    assert "operand__" not in symbolic.text_expr(
        symbolic.to_sympy(genome, expand_schedules=False, expand_operands=False), genome.grammar)
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(64, 8))
    opt = EvolvedOptimizer([w], genome, lr=1e-3, total_steps=20)
    before = w.detach().clone()
    for _ in range(5):
        opt.zero_grad()
        (w ** 2).sum().backward()
        opt.step()
    assert torch.isfinite(w).all() and not torch.equal(w.detach(), before)
