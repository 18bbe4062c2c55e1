"""Diversity pressure (``--distinct``, gp_opt.search.diversity): a child that behaves like a living
member is logged but does not join regularized evolution's population."""
import pytest

from gp_opt.cli import main
from gp_opt.errors import GpOptError
from gp_opt.fitness import FitnessRecord
from gp_opt.search import make_toolbox, resume_search, run_search
from gp_opt.search.candidate import make_individual
from gp_opt.search.diversity import TOLERANCE, distinct_children

from support.runs import Crash, CrashingQuadratic, log_lines, without_timing


def _c(x):
    return make_individual(x, f"k{x}", FitnessRecord(fitness=0.0))


def test_distinct_children_drops_near_twins_of_members_and_of_earlier_children():
    def dist(payloads):
        return [[abs(p - q) for q in payloads] for p in payloads]

    kept = distinct_children([_c(1.0), _c(1.0005), _c(3.0), _c(3.0002), _c(5.0)], [_c(0.9995)], dist, TOLERANCE)
    assert [c.payload for c in kept] == [3.0, 5.0]
    with pytest.raises(GpOptError, match="no behavioural distance"):
        distinct_children([_c(1.0)], [_c(2.0)], None, TOLERANCE)


ARGS = dict(particles=2, steps=3, children=2, seed=7, init_factor=3, algorithm="regularized", verbose=False)


def _quadratic(limit=None):
    return make_toolbox(CrashingQuadratic(limit, steps=20))


def test_a_child_that_behaves_like_a_member_does_not_join(tmp_path):
    tb = _quadratic()
    tb.register("behaviour_distances", lambda payloads: [[0.0] * len(payloads) for _ in payloads])  # every child a twin
    res = run_search("quadratic", tmp_path / "twins", distinct=True, toolbox=tb, **ARGS)
    init = [x["key"] for x in log_lines(tmp_path / "twins") if x["phase"] == "init"]
    assert sorted(c.key for c in res.population) == sorted(init)  # no child joined
    assert any(x["phase"] == "cycle" for x in log_lines(tmp_path / "twins"))  # though children were logged
    # the real behavioural distance: a run with --distinct is killed and resumed to the same run
    ref = run_search("quadratic", tmp_path / "ref", distinct=True, toolbox=_quadratic(), **ARGS)
    with pytest.raises(Crash):
        run_search("quadratic", tmp_path / "run", distinct=True, toolbox=_quadratic(6 + 4 + 1), **ARGS)
    resumed = resume_search(tmp_path / "run", toolbox=_quadratic(), verbose=False)
    assert [without_timing(x) for x in log_lines(tmp_path / "run")] == \
        [without_timing(x) for x in log_lines(tmp_path / "ref")]
    assert [c.key for c in resumed.population] == [c.key for c in ref.population]


@pytest.mark.parametrize("extra, says", [
    (["--algorithm", "particle", "--distinct"], "--distinct: not for --algorithm particle"),
    (["--algorithm", "random", "--distinct"], "--distinct: not for --algorithm random"),
    (["--algorithm", "regularized", "--distinct", "0"], "--distinct: must be a finite number > 0"),
])
def test_distinct_bad_input_one_line_exit_2(tmp_path, capsys, extra, says):
    argv = ["search", "--task", "quadratic", "--particles", "2", "--steps", "1", "--children", "1",
            "--out", str(tmp_path / "run")] + extra
    try:
        rc = main(argv)
    except SystemExit as exc:   # argparse's own refusal of a value
        rc = exc.code
    assert rc == 2 and says in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_distinct_needs_behaviour():
    with pytest.raises(GpOptError, match="--distinct: needs behavioural distances"):
        run_search("toy", None, 2, 1, 1, algorithm="regularized", distinct=True, verbose=False)
