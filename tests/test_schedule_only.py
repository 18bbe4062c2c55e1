"""Schedule-only search (issue 21 item 4): --fix-update NAME|FILE fixes the update equation and
evolves only decay functions; the winner's schedule drives any torch optimizer as an EvolvedLR;
warm starts cross grammars when every primitive exists with the same meaning."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from gp_opt import catalog, grammar as grammar_mod, symbolic as S
from gp_opt.errors import GpOptError
from gp_opt.optim import EvolvedLR
from gp_opt.search import run_search
from gp_opt.search.schedule_only import FixedUpdatePopulation, fixed_update
from gp_opt.search.warmstart import in_grammar, prepare_init_from

CUBE = '''
extends = "default"
name = "cube-space"

[ops.cube]
expr = "x**3"
label = "cube"
'''


@pytest.fixture
def cube(tmp_path):
    path = tmp_path / "cube.toml"
    path.write_text(CUBE)
    return grammar_mod.load(path), path


def _update(genome):
    return S.factor_schedule(genome)[1]


def test_every_candidate_keeps_the_fixed_update(tmp_path):
    result = run_search("quadratic", tmp_path / "run", 2, 2, 2, seed=0, init_factor=2, verbose=False,
                        fix_update="Adam", task_options={"steps": 10})
    adam = _update(catalog.get("Adam"))
    lines = [json.loads(x) for x in (tmp_path / "run" / "candidates.jsonl").read_text().splitlines()]
    assert len(lines) >= 8
    from gp_opt.genome import OptimizerGenome
    genomes = [OptimizerGenome.from_json(x["individual"]) for x in lines]
    assert all(_update(g) == adam or _update(g) == -adam for g in genomes)
    assert any(S.factor_schedule(g)[0] != 1 for g in genomes)      # schedules did evolve
    assert json.loads((tmp_path / "run" / "run.json").read_text())["config"]["toolbox"]["fix_update"]
    # the winner's schedule drives a stock torch optimizer
    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.Adam([w], lr=0.01)
    sched = EvolvedLR(opt, result.best.payload, total_steps=20, warmup_steps=2)
    rates = []
    for _ in range(20):
        opt.zero_grad()
        (w ** 2).sum().backward()
        opt.step()
        sched.step()
        rates.append(opt.param_groups[0]["lr"])
    assert len(set(round(r, 12) for r in rates)) > 3


def test_fixed_update_drops_decays_and_population_keeps_the_graph():
    bare = fixed_update("Opt6", grammar_mod.load())
    assert all(d is None for n in bare.active_inner_nodes() for _, d in bare.input_edges(n))
    import numpy as np
    pop = FixedUpdatePopulation(bare.grammar, bare.to_dict())(np.random.default_rng(0), 6)
    assert len(pop) == 6
    for g in pop:
        assert [g.op(n) for n in g.active_inner_nodes()] == [bare.op(n) for n in bare.active_inner_nodes()]


def test_warm_start_and_fixed_update_cross_grammars(cube):
    gm, path = cube
    adam = in_grammar(catalog.get("Adam"), gm, "test")
    assert adam.grammar is gm and S.to_sympy(adam) == S.to_sympy(catalog.get("Adam"))
    assert prepare_init_from("Adam,Opt6", gm, verbose=False)
    assert fixed_update("RMSProp", gm).grammar is gm
    with pytest.raises(GpOptError, match="uses the operand 'qhm_g', which grammar 'default' does not have"):
        fixed_update("QHM", grammar_mod.load())


def test_a_primitive_with_another_meaning_is_refused(tmp_path):
    other = tmp_path / "other.toml"
    other.write_text('extends = "default"\nname = "other"\n[ops.sqrt_abs]\nexpr = "Abs(x)"\n')
    with pytest.raises(GpOptError, match="the op 'sqrt_abs' means"):
        fixed_update("Adam", grammar_mod.load(other))


@pytest.mark.parametrize("spec, words", [("Adamm", "unknown catalog entry 'Adamm'; did you mean Adam"),
                                         ("QHM", "which grammar 'default' does not have"),
                                         ("missing.json", "cannot read the genome file")])
def test_bad_fix_update_is_one_line_exit_2_nothing_written(tmp_path, spec, words):
    p = subprocess.run([sys.executable, "-m", "gp_opt.cli", "search", "--task", "quadratic", "--particles", "2",
                        "--steps", "1", "--children", "2", "--fix-update", spec, "--out", "run"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert p.returncode == 2 and words in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_cli_says_how_to_use_the_schedule(tmp_path):
    p = subprocess.run([sys.executable, "-m", "gp_opt.cli", "search", "--task", "quadratic", "--set", "steps=10",
                        "--particles", "2", "--steps", "1", "--children", "2", "--init-factor", "2",
                        "--fix-update", "Adam", "--out", "run", "--plain"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "schedule only (update fixed to Adam)" in p.stdout and "EvolvedLR(optimizer" in p.stdout
    p = subprocess.run([sys.executable, "-m", "gp_opt.cli", "resume", "run", "-q"], capture_output=True,
                       text=True, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr
