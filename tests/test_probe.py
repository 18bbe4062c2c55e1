"""gp-opt probe-fitness: the discriminability statistics on a table with a known answer, and a
tiny probe on the cheapest task (resume, a panel that all fails)."""
import json
import math

import numpy as np
import pytest

from gp_opt.cli import main
from gp_opt.probe import discriminability, kendall_tau, p_pair, paired_against
from gp_opt.probe.run import PanelFailed, ProbeSettings, run_probe, summarize


def _known_table():
    # optimizer effects -1, 0, 1; seed effects 0, 10, -5, 3; a residual with zero row and column
    # sums: MS_optimizer = 4 * 2 / 2 = 4, MS_residual = (8 * 0.25) / 6 = 1/3, so the seed-blocked
    # ratio is (4 - 1/3) / 4 / (1/3) = 2.75 and F = 12; the seed effects swamp the one-way
    # within variance (356 / 9), whose ratio (4 - 356/9) / 4 / (356/9) is negative.
    a = np.array([-1.0, 0.0, 1.0])[:, None]
    b = np.array([0.0, 10.0, -5.0, 3.0])[None, :]
    e = 0.5 * np.array([[1, -1, 1, -1], [-1, 1, -1, 1], [0, 0, 0, 0]], dtype=float)
    return a + b + e


def test_statistics_on_a_table_with_a_known_answer():
    st = discriminability(_known_table())
    assert (st.k, st.n) == (3, 4)
    assert st.blocked_ratio == pytest.approx(2.75)
    assert st.blocked_f == pytest.approx(12.0)
    ms_within = 356 / 9
    assert st.one_way_ratio == pytest.approx((4 - ms_within) / 4 / ms_within)
    assert st.one_way_f == pytest.approx(4 / ms_within)
    assert st.tau == pytest.approx(1.0)  # both halves rank -1 < 0 < 1
    assert st.p_pair == pytest.approx(0.5 + math.atan(math.sqrt(2.75)) / math.pi)
    assert st.blocked_p < 0.01 < st.one_way_p


def test_adding_a_seed_effect_leaves_the_blocked_ratio_alone():
    x = _known_table()
    shifted = x + np.array([100.0, -50.0, 7.0, 0.0])[None, :]
    assert discriminability(shifted).blocked_ratio == pytest.approx(discriminability(x).blocked_ratio)
    assert discriminability(shifted).one_way_ratio < discriminability(x).one_way_ratio


def test_p_pair_tau_and_paired_differences():
    assert p_pair(0.0) == 0.5 and p_pair(-1.0) == 0.5 and p_pair(1.0) == pytest.approx(0.75)
    assert p_pair(1e12) == pytest.approx(1.0, abs=1e-6)
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1])[0] == pytest.approx(-1.0)
    x = _known_table()
    d = paired_against(x, 0)
    assert d.shape == (2, 4)
    np.testing.assert_allclose(d[1], x[2] - x[0])
    with pytest.raises(ValueError):
        discriminability([[1.0, 2.0]])
    with pytest.raises(ValueError):
        discriminability([[1.0, float("nan")], [1.0, 2.0]])


TINY = dict(task="quadratic", options={"steps": 10, "lrs": [0.1, 0.01]}, panel=("Adam", "SGD", "RMSProp"),
            random=1, seeds=(0, 1, 2))


def test_tiny_probe_logs_every_evaluation_and_resumes(tmp_path):
    out = tmp_path / "probe"
    res = run_probe(ProbeSettings(**TINY), out)
    assert len(res.rows) == 4 * 3
    lines = (out / "evaluations.jsonl").read_text().splitlines()
    assert len(lines) == 12
    assert {(json.loads(l)["name"], json.loads(l)["seed"]) for l in lines} == \
        {(n, s) for n in ("Adam", "SGD", "RMSProp", "random1") for s in (0, 1, 2)}
    # the scores depend on the seed: the probe really evaluates each seed
    adam = [json.loads(l)["fitness"] for l in lines if json.loads(l)["name"] == "Adam"]
    assert len(set(adam)) == 3
    # a kill mid-write: the last line torn, one line lost; the same settings resume the rest
    (out / "evaluations.jsonl").write_text("\n".join(lines[:10]) + "\n" + lines[10][:15])
    again = run_probe(ProbeSettings(**TINY), out)
    assert len(again.rows) == 12
    relog = (out / "evaluations.jsonl").read_text().splitlines()
    assert relog[:10] == lines[:10] and len([l for l in relog if l.endswith("}")]) == 12
    summary = summarize(again)
    fit = summary["lines"][0]
    assert fit["metric"] == "fitness" and fit["k"] == 3 and fit["n"] == 3
    assert any(ln["metric"].startswith("fitness - Adam") for ln in summary["lines"])
    # other settings on the same directory: refused
    with pytest.raises(Exception, match="other settings"):
        run_probe(ProbeSettings(**dict(TINY, seeds=(0, 1))), out)


def test_a_panel_that_all_fails_writes_nothing(tmp_path, capsys):
    out = tmp_path / "p"
    code = main(["probe-fitness", "--task", "quadratic", "--set", "lrs=[1e200]", "--set", "steps=5",
                 "--panel", "Adam,SGD", "--random", "0", "--seeds", "2", "--out", str(out), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "every panel entry failed" in err[0]
    assert not out.exists()
    with pytest.raises(PanelFailed):
        run_probe(ProbeSettings(task="quadratic", options={"lrs": [1e200], "steps": 5}, panel=("Adam",),
                                random=0, seeds=(0, 1)), tmp_path / "q")


def test_probe_cli_prints_the_table(tmp_path, capsys):
    code = main(["probe-fitness", "--task", "quadratic", "--set", "steps=10", "--panel", "Adam,SGD,Momentum",
                 "--random", "0", "--seeds", "2", "--out", str(tmp_path / "p"), "-q"])
    out = capsys.readouterr().out
    assert code == 0 and "seed-blocked ratio" in out and "| fitness | 3 |" in out


@pytest.mark.parametrize("argv, msg", [
    (["--panel", "Adam,NoSuchOpt"], "unknown panel optimizer(s) NoSuchOpt"),
    (["--seeds", "1"], "at least 2 seeds"),
    (["--task", "nosuch"], "unknown task 'nosuch'"),
    (["--set", "steps=0"], "steps must be at least 1"),
])
def test_probe_bad_input_is_one_line(tmp_path, capsys, argv, msg):
    out = tmp_path / "p"
    code = main(["probe-fitness", "--task", "quadratic", "--out", str(out), "-q"] + argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and msg in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("task, options", [
    ("quadratic", {"steps": 10, "fitness_seeds": 2}),                                   # a wrapped cheap task
    ("quadratic+rosenbrock", {"quadratic.steps": 10, "rosenbrock.steps": 10}),          # a multi-task list
])
def test_stock_panel_entries_reach_wrapped_and_multi_task_evaluators(tmp_path, task, options):
    res = run_probe(ProbeSettings(task=task, options=options, panel=("Adam", "SGD", "Opt6"), random=0,
                                  seeds=(0, 1)), tmp_path / "p")
    assert all(r["status"] == "ok" for r in res.rows), [r["reason"] for r in res.rows]
    if "+" in task:  # Adam relative to itself: exactly 0 on every seed
        assert [r["fitness"] for r in res.rows if r["name"] == "Adam"] == [0.0, 0.0]
