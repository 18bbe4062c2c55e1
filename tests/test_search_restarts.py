"""Regularized evolution's restarts (--restart-every): killed inside a restart's fresh population and
resumed, the run ends as the uninterrupted one, line for line."""
import pytest

from gp_opt.search import make_toolbox, resume_search, run_search

from support.runs import Crash, CrashingQuadratic, log_lines, without_timing

# population 4, 2 children per cycle, a restart before cycles 3 and 5 (4 fresh members each)
ARGS = dict(particles=2, steps=5, children=1, seed=6, init_factor=2, algorithm="regularized", restart_every=2,
            verbose=False)


def test_a_run_killed_in_a_restart_resumes_to_the_uninterrupted_run(tmp_path):
    ref = run_search("quadratic", tmp_path / "ref", toolbox=make_toolbox(CrashingQuadratic(steps=10)), **ARGS)
    phases = [x["phase"] for x in log_lines(tmp_path / "ref")]
    assert phases.count("restart") == 8
    first_restart = phases.index("restart")
    with pytest.raises(Crash):   # the evaluations before the crash: the cache and replay do not count here
        run_search("quadratic", tmp_path / "run", toolbox=make_toolbox(CrashingQuadratic(limit=first_restart + 2,
                                                                                           steps=10)), **ARGS)
    assert log_lines(tmp_path / "run")[-1]["phase"] == "restart"
    resumed = resume_search(tmp_path / "run", toolbox=make_toolbox(CrashingQuadratic(steps=10)), verbose=False)
    assert [without_timing(x) for x in log_lines(tmp_path / "run")] == \
        [without_timing(x) for x in log_lines(tmp_path / "ref")]
    assert [c.key for c in resumed.population] == [c.key for c in ref.population]
