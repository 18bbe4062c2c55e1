"""Random search (``--algorithm random``), the control: the same accounting as the particle GA --
integrity redraws counted, screen failures logged, the fitness cache, one log line per candidate
with the CPU seconds of its evaluation -- at the GA's expected number of candidates."""
import json
from pathlib import Path

from gp_opt.search import run_search

from support.runs import log_lines

N, K, M, FACTOR = 2, 3, 3, 3


def _counters(run):
    return json.loads((Path(run) / "checkpoint.json").read_text())["state"]["counters"]


def _check_accounting(run, evaluated_keys):
    lines, counts = log_lines(run), _counters(run)
    assert counts["candidates"] == len(lines)
    assert counts["evals"] == sum(not x["cache_hit"] for x in lines) == len(evaluated_keys)
    assert counts["cache_hits"] == sum(x["cache_hit"] for x in lines)
    assert counts["rejected"] == sum(x["record"]["status"] != "ok" for x in lines)
    assert counts["integrity_rejections"] > 0  # redrawn before scoring, counted, never logged
    assert [x["seq"] for x in lines] == list(range(len(lines)))
    for x in lines:  # every evaluation's CPU seconds; a cache hit costs none
        cpu = x["seconds"]["cpu"]
        assert cpu == 0.0 if x["cache_hit"] else (isinstance(cpu, float) and cpu >= 0.0)
    return lines, counts


def test_random_search_keeps_the_ga_accounting(tmp_path):
    runs = {}
    for algorithm in ("particle", "random"):
        evaluated = tmp_path / f"{algorithm}.evals"
        run = tmp_path / algorithm
        run_search("toy", run, N, K, M, seed=4, init_factor=FACTOR, algorithm=algorithm, verbose=False,
                   task_options={"eval_log": str(evaluated)})
        runs[algorithm] = _check_accounting(run, evaluated.read_text().splitlines())
    (ga, ga_counts), (rs, rs_counts) = runs["particle"], runs["random"]
    assert len(rs) == FACTOR * N + K * N * M  # the GA's expected count, exactly (no screen redraws)
    assert {frozenset(x) for x in rs} == {frozenset(x) for x in ga}  # the same fields in every line
    # the same seed draws the same initial population, through the same cache and log
    same = ("seq", "phase", "slot", "key", "individual", "cache_hit")
    assert [([x[k] for k in same], x["record"]["fitness"]) for x in rs[:FACTOR * N]] == \
        [([x[k] for k in same], x["record"]["fitness"]) for x in ga[:FACTOR * N]]
    assert {x["phase"] for x in rs[FACTOR * N:]} == {"step"}
    assert rs_counts["mutation_failures"] == 0


def test_random_search_hits_the_cache_and_resumes_to_the_same_result(tmp_path):
    # one-entry vectors: 17 values pass the toy integrity check, so 26 draws must repeat some
    run = tmp_path / "run"
    res = run_search("toy", run, N, K, M, seed=1, init_factor=FACTOR * 2, algorithm="random", verbose=False,
                     task_options={"dim": 1})
    lines = log_lines(run)
    hits = [x for x in lines if x["cache_hit"]]
    assert hits and all(x["seconds"]["evaluate"] == 0.0 for x in hits)
    first = {x["key"]: x["record"] for x in lines if not x["cache_hit"]}
    assert all(x["record"] == first[x["key"]] for x in hits)
    # the checkpoint of an earlier step: the resume replays the rest from the log
    from gp_opt.search import resume_search

    again = resume_search(run, verbose=False)
    assert [c.key for c in again.halloffame] == [c.key for c in res.halloffame]
    assert log_lines(run) == lines
