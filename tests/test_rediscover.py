"""gp-opt rediscover: the fitness, the judge of success, a tiny campaign that succeeds, resume, bad input."""
import json
import math

import numpy as np
import pytest

from gp_opt import catalog
from gp_opt.cli import main
from gp_opt.errors import GpOptError
from gp_opt.genome import OptimizerGenome
from gp_opt.rediscover import Judge, RediscoveryFitness, judge, resolve, unexpressible

OPERANDS_OFF = ["g2", "g3", "lam_hat", "two", "wd6", "wd5", "wd4", "wd3", "sign_v_hat", "qh_g", "qh_g2",
                "qh_g3", "aggmo_g", "aggmo_g2", "aggmo_g3"]


@pytest.fixture
def small_grammar(tmp_path):
    """A small search space (5 operands, 4 unary and 3 binary ops, 2 hidden nodes, no decays):
    SGD is found within a hundred or so candidates, so the campaign test takes seconds."""
    text = ['extends = "default"', 'name = "small"', "[update]", "hidden_nodes = 2",
            'unary = ["identity", "neg", "abs", "sqrt_abs"]', 'binary = ["add", "mul", "div"]',
            'momentum = ["none", "momentum"]', "[update.init]", "decay_edge = 0.0", "[mutation]",
            "op = 0.45", "connection = 0.35", "arity = 0.1", "momentum = 0.1", "decay = 0.0"]
    for name in OPERANDS_OFF:
        text += ["[[operand]]", f'name = "{name}"', "weight = 0"]
    path = tmp_path / "small.toml"
    path.write_text("\n".join(text) + "\n")
    return path


def test_fitness_is_minus_the_distance_batched_or_not():
    fit = RediscoveryFitness(catalog.get("Adam"))
    genomes = [catalog.get(n) for n in ("Adam", "RMSProp", "SGD")]
    blowup = OptimizerGenome.from_nodes({"h0": ("exp", ["two"]), "h1": ("exp", ["h0"]), "h2": ("exp", ["h1"]),
                                         "out": ("mul", ["g", "h2"])})
    batch = fit.map(fit, genomes + [blowup])
    one = [fit(g) for g in genomes]
    assert [r.fitness for r in batch[:3]] == [r.fitness for r in one]
    assert batch[0].fitness == 0.0 and batch[1].fitness < 0 and batch[1].extra["distance"] == -batch[1].fitness
    assert batch[3].status == "failed" and math.isinf(batch[3].fitness)


def test_judge_says_how_the_candidate_is_the_target():
    sgd = catalog.get("SGD")
    assert judge(OptimizerGenome.from_nodes({"h0": ("neg", ["g"]), "out": ("identity", ["h0"])}, sign=-1), sgd) == "symbolic"
    # min(g, max(g, g^2)) is g for every g: not the same equation, the same behaviour
    assert judge(OptimizerGenome.from_nodes({"h0": ("max", ["g", "g2"]), "out": ("min", ["g", "h0"])}), sgd) == "behavioural"
    assert judge(OptimizerGenome.from_nodes({"h0": ("identity", ["g"]), "out": ("add", ["h0", "wd6"])}), sgd) is None
    assert judge(catalog.get("Momentum"), sgd) is None


def test_the_batched_judge_finds_the_first_candidate_judge_accepts():
    sgd = catalog.get("SGD")
    cands = [OptimizerGenome.from_nodes({"h0": ("identity", ["g"]), "out": ("add", ["h0", "wd6"])}),   # a near twin
             catalog.get("Momentum"),
             OptimizerGenome.from_nodes({"h0": ("max", ["g", "g2"]), "out": ("min", ["g", "h0"])}),      # behavioural
             OptimizerGenome.from_nodes({"h0": ("neg", ["g"]), "out": ("identity", ["h0"])}, sign=-1)]   # symbolic
    one_by_one = [judge(c, sgd) for c in cands]
    assert one_by_one == [None, None, "behavioural", "symbolic"]
    batched = Judge(sgd)
    assert batched.first(cands) == (2, "behavioural")
    assert batched.first(cands[3:]) == (0, "symbolic") and batched.first(cands[:2]) is None
    assert batched.first([]) is None


def test_targets_the_grammar_cannot_express_are_refused_with_the_nearest_form():
    assert unexpressible(catalog.get("Adam")) == []
    with pytest.raises(GpOptError, match=r"QHM.*operand qhm_g has weight 0.*nearest expressible form is U = "):
        resolve("QHM")
    with pytest.raises(GpOptError, match="did you mean Adam"):
        resolve("Adamm")


def _campaign(small_grammar, out, seeds=1, extra=()):
    return main(["rediscover", "SGD", "--grammar", str(small_grammar), "--algorithm", "ga", "--budget", "120",
                 "--seeds", str(seeds), "--particles", "4", "--children", "4", "--init-factor", "4",
                 "--out", str(out), "--json", "-q", *extra])


def test_a_tiny_rediscovery_succeeds_and_resumes(small_grammar, tmp_path, capsys):
    out = tmp_path / "camp"
    assert _campaign(small_grammar, out) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["solved"] == 1 and summary["solution_rate"] == 1.0 and summary["best_distance"] == 0.0
    assert summary["median_candidates_to_solution"] <= 160
    seed0 = json.loads((out / "results" / "seed-0.json").read_text())
    assert seed0["how"] in ("symbolic", "behavioural")
    solution = OptimizerGenome.from_dict(seed0["solution"], resolve("SGD", small_grammar).grammar)
    assert judge(solution, catalog.get("SGD")) == seed0["how"]
    log = (out / "seed-0" / "candidates.jsonl").read_text()
    # the same command again: the finished seed is read back, nothing is evaluated or logged again
    assert _campaign(small_grammar, out) == 0
    assert json.loads(capsys.readouterr().out) == summary
    assert (out / "seed-0" / "candidates.jsonl").read_text() == log
    # other settings into the same directory: refused, nothing changed
    assert main(["rediscover", "Adam", "--budget", "120", "--particles", "4", "--children", "4",
                 "--init-factor", "4", "--out", str(out), "-q"]) == 2
    assert "rediscovery of other settings" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["Adamm", "--budget", "300"], "unknown catalog entry 'Adamm'"),
    (["QHM", "--budget", "300"], "cannot express it"),
    (["Adam", "--budget", "0"], "--budget: must be a positive integer"),
    (["Adam", "--budget", "300", "--seeds", "0"], "--seeds: must be a positive integer"),
    (["Adam", "--budget", "300", "--seeds", "-2"], "--seeds: must be a positive integer"),
    (["Adam", "--budget", "150"], "below one step"),
    (["no/such/file.json", "--budget", "300"], "no such genome file"),
    (["Adam", "--budget", "300", "--restart-every", "5"], "--restart-every: only with --algorithm regularized"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, capsys, args, message):
    out = tmp_path / "camp"
    try:
        rc = main(["rediscover", *args, "--out", str(out)])
    except SystemExit as exc:   # argparse's own checks (--budget 0) exit while parsing
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_local_search_rediscovers_sgd(small_grammar, tmp_path, capsys):
    out = tmp_path / "camp"
    assert main(["rediscover", "SGD", "--grammar", str(small_grammar), "--algorithm", "local", "--budget", "120",
                 "--seeds", "1", "--particles", "4", "--children", "4", "--init-factor", "4",
                 "--out", str(out), "--json", "-q", "--stop-when-solved"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["algorithm"] == "local" and summary["solved"] == 1
    assert summary["median_candidates_to_solution"] <= 120


def test_stop_when_solved_ends_a_seed_at_its_solution_with_the_same_table(small_grammar, tmp_path, capsys):
    full, stopped = tmp_path / "full", tmp_path / "stopped"
    assert _campaign(small_grammar, full) == 0
    whole = json.loads(capsys.readouterr().out)
    assert _campaign(small_grammar, stopped, extra=["--stop-when-solved"]) == 0
    early = json.loads(capsys.readouterr().out)
    a, b = (json.loads((d / "results" / "seed-0.json").read_text()) for d in (full, stopped))
    assert b["solved"] and (a["candidates_to_solution"], a["how"]) == (b["candidates_to_solution"], b["how"])
    assert b["candidates_to_solution"] <= b["logged"] < a["logged"]
    assert {k: whole[k] for k in ("solved", "median_candidates_to_solution")} == \
        {k: early[k] for k in ("solved", "median_candidates_to_solution")}
    assert early["best_distance"] <= 1e-7 and whole["best_distance"] <= early["best_distance"]
    state = json.loads((stopped / "seed-0" / "checkpoint.json").read_text())["state"]
    assert state["stopped"] == {"reason": f"solved ({b['how']})", "seq": b["candidates_to_solution"] - 1}
    # the setting is part of the campaign: resuming without it is refused, nothing changed
    assert _campaign(small_grammar, stopped) == 2
    assert "stop_when_solved differs" in capsys.readouterr().err
