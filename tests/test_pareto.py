"""Multi-objective search (gp_opt.search.pareto): NSGA-II on hand-made points, the objectives,
the Pareto archive of a regularized-evolution run surviving a crash and resume, bad input."""
import json

import pytest

from gp_opt.cli import main
from gp_opt.errors import GpOptError
from gp_opt.fitness import FitnessRecord
from gp_opt.search import make_toolbox, resume_search, run_search
from gp_opt.search.pareto import ARCHIVE_NAME, nsga2_select, objective_values, pareto_ranks, parse_objectives

from support.runs import Crash, CrashingQuadratic

NAMES = ("fitness", "memory")
#: (fitness up, memory down) A..G: the front is A (0.9, 2), B (0.85, 1), C (0.5, 0); F, G next; D, E last
POINTS = [(0.9, 2), (0.8, 2), (0.85, 1), (0.4, 1), (0.5, 0), (0.3, 0), (0.84, 1)]


def test_nsga2_ranks_a_known_front():
    assert pareto_ranks(POINTS, NAMES) == [0, 2, 0, 2, 0, 1, 1]   # D and E lie behind G too
    assert sorted(nsga2_select(POINTS, NAMES, 3)) == [0, 2, 4]       # exactly the front
    chosen = nsga2_select(POINTS, NAMES, 4)                            # the front, then rank 1
    assert set(chosen[:3]) == {0, 2, 4} and chosen[3] in (5, 6)
    # with size as a third objective a point off the 2-d front can join it
    three = [p + (s,) for p, s in zip(POINTS, [5, 5, 5, 5, 5, 1, 5])]
    assert pareto_ranks(three, ("fitness", "memory", "size"))[5] == 0
    # a failed candidate is worst in every objective: behind any passing one, whatever its memory
    from gp_opt import catalog
    from gp_opt.search.candidate import make_individual
    sgd = catalog.get("SGD")
    failed = make_individual(sgd, "k0", FitnessRecord.failed("nan"))
    passing = make_individual(catalog.get("Adam"), "k1", FitnessRecord(fitness=0.1, status="ok"))
    values = [objective_values(c, NAMES) for c in (failed, passing)]
    assert values[1] == (0.1, 2.0) and pareto_ranks(values, NAMES) == [1, 0]


@pytest.mark.parametrize("spec, says", [("fitness,speed", "unknown objective 'speed'"),
                                        ("fitness,memory,memory", "memory given twice"),
                                        ("memory,size", "fitness must be one of them"),
                                        ("fitness", "one objective")])
def test_bad_objectives(spec, says):
    with pytest.raises(GpOptError, match=says):
        parse_objectives(spec)


def _front(path):
    lines = [json.loads(x) for x in (path / ARCHIVE_NAME).read_text().splitlines()]
    return [(x["key"], tuple(x["values"])) for x in lines]


def test_pareto_archive_survives_a_crash_and_resume(tmp_path):
    args = dict(particles=2, steps=3, children=1, seed=3, init_factor=3, algorithm="regularized",
                objectives="fitness,memory,size", verbose=False)
    run_search("quadratic", tmp_path / "ref", **args, toolbox=make_toolbox(CrashingQuadratic()))
    ref = _front(tmp_path / "ref")
    assert ref and len({k for k, _ in ref}) == len(ref)          # each key once
    with pytest.raises(Crash):
        run_search("quadratic", tmp_path / "run", **args, toolbox=make_toolbox(CrashingQuadratic(limit=6 + 3)))
    resume_search(tmp_path / "run", toolbox=make_toolbox(CrashingQuadratic()), verbose=False)
    assert _front(tmp_path / "run") == ref                        # nothing lost, nothing twice
    from gp_opt.rundir import RunDir
    assert RunDir.open(tmp_path / "run", lock=False).config["objectives"] == ["fitness", "memory", "size"]
    # the report shows the front, each point's equation in its row, and fitness against memory
    from gp_opt.report import make_report
    make_report(tmp_path / "run", top_k=1, simplify_seconds=0.1, pdf=False)
    md = (tmp_path / "run" / "report" / "report.md").read_text()
    section = md.split("## Multi-objective front", 1)[1].split("\n## ", 1)[0]
    assert "| candidate | fitness | memory | size | U |" in section and "objectives.png" in section
    front_rows = [x for x in section.splitlines() if x.startswith("| ") and not x.startswith("| candidate")]
    assert front_rows and all(x.rstrip().endswith("` |") for x in front_rows)
    assert (tmp_path / "run" / "report" / "objectives.png").exists()


def test_pareto_particle_ga_archives_and_resumes_equal(tmp_path):
    """The particle GA's Pareto variant: NSGA-II picks the initial particles and each move, the
    archive grows as it goes, and a crash + resume leaves the same archive and particles."""
    args = dict(particles=2, steps=3, children=2, seed=5, init_factor=3, algorithm="particle",
                objectives="fitness,memory", verbose=False)
    ref_result = run_search("quadratic", tmp_path / "ref", **args, toolbox=make_toolbox(CrashingQuadratic()))
    ref = _front(tmp_path / "ref")
    assert ref and len({k for k, _ in ref}) == len(ref)
    values = [v for _, v in ref]   # appended only when no earlier line dominated it
    assert all(not (a[0] >= b[0] and a[1] <= b[1] and a != b) for i, b in enumerate(values) for a in values[:i])
    with pytest.raises(Crash):   # mid-way through step 2 (6 initial, 4 per step)
        run_search("quadratic", tmp_path / "run", **args, toolbox=make_toolbox(CrashingQuadratic(limit=6 + 4 + 2)))
    resumed = resume_search(tmp_path / "run", toolbox=make_toolbox(CrashingQuadratic()), verbose=False)
    assert _front(tmp_path / "run") == ref
    assert [c.key for c in resumed.population] == [c.key for c in ref_result.population]


@pytest.mark.parametrize("extra, says", [(["--objectives", "fitness,fitness"], "fitness given twice"),
                                         (["--objectives", "fitness,bogus"], "unknown objective 'bogus'"),
                                         (["--objectives", "fitness,memory", "--algorithm", "random"],
                                          "--objectives: not for --algorithm random")])
def test_search_objectives_bad_input_one_line_exit_2(tmp_path, capsys, extra, says):
    argv = ["search", "--task", "quadratic", "--out", str(tmp_path / "run"), "--particles", "2", "--steps", "1",
            "--children", "1", "--algorithm", "regularized"] + extra
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err
    assert not (tmp_path / "run").exists()
