"""toolbox.stop_when: a search ends early when the toolbox says why, and a resumed run stays ended."""
import json

import pytest

from gp_opt.search import make_toy_toolbox, resume_search, run_search


class StopAt:
    """Stops at the ``n``-th candidate it is asked about (1-based); counts what it was asked."""

    def __init__(self, n):
        self.n, self.asked = n, 0

    def __call__(self, payloads, records):
        assert len(payloads) == len(records) > 0
        before, self.asked = self.asked, self.asked + len(payloads)
        if before < self.n <= self.asked:
            return self.n - before - 1, f"asked {self.n} times"
        return None


def _lines(run):
    return (run / "candidates.jsonl").read_text().splitlines()


@pytest.mark.parametrize("algorithm", ["particle", "regularized", "random"])
def test_a_search_stops_after_the_generation_in_which_stop_when_answers(tmp_path, algorithm):
    tb = make_toy_toolbox(seed=2)
    tb.register("stop_when", StopAt(25))   # the initial population is 20: the 5th child of step 1
    res = run_search("toy", tmp_path / "run", 2, 6, 4, seed=2, algorithm=algorithm, toolbox=tb, verbose=False)
    assert len(res.logbook) == 2   # generation 0 (the initial population) and 1, not 7
    state = json.loads((tmp_path / "run" / "checkpoint.json").read_text())["state"]
    assert state["stopped"] == {"reason": "asked 25 times", "seq": 24} and state["step"] == 1
    n = len(_lines(tmp_path / "run"))
    assert 25 <= n < 20 + 6 * 8
    # resumed with a toolbox that would never stop: the recorded stop holds, nothing more is logged
    again = make_toy_toolbox(seed=2)
    again.register("stop_when", StopAt(10 ** 9))
    resumed = resume_search(tmp_path / "run", toolbox=again, verbose=False)
    assert len(resumed.logbook) == 2 and len(_lines(tmp_path / "run")) == n


def test_without_an_answer_the_run_is_the_same_as_without_stop_when(tmp_path):
    plain = run_search("toy", tmp_path / "a", 2, 3, 3, seed=5, toolbox=make_toy_toolbox(seed=5), verbose=False)
    tb = make_toy_toolbox(seed=5)
    never = StopAt(10 ** 9)
    tb.register("stop_when", never)
    asked = run_search("toy", tmp_path / "b", 2, 3, 3, seed=5, toolbox=tb, verbose=False)

    def logged(run):
        return [(x["key"], x["record"]["fitness"], x["phase"]) for x in map(json.loads, _lines(run))]

    assert logged(tmp_path / "a") == logged(tmp_path / "b")
    assert len(asked.logbook) == len(plain.logbook) == 4
    assert never.asked == sum(not json.loads(x)["cache_hit"] for x in _lines(tmp_path / "b"))
