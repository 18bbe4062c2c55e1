"""Noise-aware selection: re-evaluations are log lines, the fitness selection uses (mean minus
standard error) is derived from the log, and a killed run resumes to the uninterrupted result."""
import json
import math
import os
import signal
import subprocess
import sys
import time

from gp_opt.fitness import FitnessRecord
from gp_opt.search import run_search
from gp_opt.search.noise import Evaluations

from support.runs import log_lines

SETTINGS = "2, 4, 3, seed=7, init_factor=3, verbose=False, noise={'race_seeds': 1, 'rescore': 2}"


def test_derived_fitness_is_mean_minus_pooled_standard_error():
    ev = Evaluations()
    for key, value in (("a", 1.0), ("b", 5.0), ("a", 3.0)):
        ev.add(key, FitnessRecord(fitness=value))
    assert math.isclose(ev.pooled_sd(), math.sqrt(2.0))
    assert math.isclose(ev.derived("a").fitness, 2.0 - math.sqrt(2.0) / math.sqrt(2.0))
    assert math.isclose(ev.derived("b").fitness, 5.0 - math.sqrt(2.0))  # once: the pooled penalty
    assert ev.derived("a").extra["evaluations"] == 2 and ev.derived("c") is None
    ev.add("b", FitnessRecord.failed("NaN on this seed"))
    assert ev.derived("b").status == "failed"


def test_reevaluation_changes_an_elite_and_the_log_says_by_how_much(tmp_path):
    res = eval(f"run_search('toy', tmp_path / 'run', {SETTINGS}, task_options={{'noise': 3.0}})")
    lines = log_lines(tmp_path / "run", missing_ok=True)
    again = [x for x in lines if x["phase"] == "reeval"]
    assert again and all(not x["cache_hit"] for x in again)
    rebuilt = Evaluations()
    rebuilt.rebuild(lines)
    changed = 0
    for item in res.halloffame.items:  # every elite's fitness is the one derived from the log
        derived = rebuilt.derived(item.key)
        assert math.isclose(item.record.fitness, derived.fitness)
        first = next(x for x in lines if x["key"] == item.key and not x["cache_hit"])
        changed += derived.extra["evaluations"] > 1 and derived.fitness != first["record"]["fitness"]
    assert changed  # re-evaluation moved at least one elite off its first score
    seeds = [x["eval_seed"] for x in lines if not x["cache_hit"]]
    assert len(set(seeds)) == len(seeds)  # every re-evaluation on a fresh seed


def test_sigkill_then_resume_matches_the_uninterrupted_noise_aware_run(tmp_path):
    code = ("import sys; from gp_opt.search import run_search; "
            f"run_search('toy', sys.argv[1], {SETTINGS}, task_options={{'noise': 3.0, 'delay': float(sys.argv[2])}})")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    ref = tmp_path / "ref"
    subprocess.run([sys.executable, "-c", code, str(ref), "0"], check=True, env=env, timeout=120)
    ref_lines = log_lines(ref, missing_ok=True)
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", code, str(run), "0.03"], env=env)
    deadline = time.time() + 60
    while len(log_lines(run, missing_ok=True)) < 20 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the search finished before it could be killed"
    assert 20 <= len(log_lines(run, missing_ok=True)) < len(ref_lines)
    resume = ("import sys; from gp_opt.search import resume_search; r = resume_search(sys.argv[1], verbose=False); "
              "print([(c.key, c.record.fitness) for c in r.halloffame])")
    out = subprocess.run([sys.executable, "-c", resume, str(run)], check=True, env=env, timeout=120,
                         capture_output=True, text=True).stdout
    drop = ("time", "seconds", "crc")
    stable = [[{k: v for k, v in x.items() if k not in drop} | {"record": x["record"]["fitness"]} for x in ls]
              for ls in (log_lines(run, missing_ok=True), ref_lines)]
    assert stable[0] == stable[1]
    hof = json.loads((ref / "checkpoint.json").read_text())["state"]["hof"]["items"]
    assert out.strip() == str([(i["key"], i["record"]["fitness"]) for i in hof])


def test_readers_of_the_log_rank_on_the_derived_fitness(tmp_path):
    from gp_opt.search.noise import with_derived_records

    res = eval(f"run_search('toy', tmp_path / 'run', {SETTINGS}, task_options={{'noise': 3.0}})")
    best: dict = {}
    for line in with_derived_records(log_lines(tmp_path / "run", missing_ok=True)):  # as the report and the funnel read it
        if line["record"]["status"] == "ok":
            best[line["key"]] = max(best.get(line["key"], -math.inf), line["record"]["fitness"])
    top = sorted(best.items(), key=lambda kv: -kv[1])[:len(res.halloffame)]
    assert [k for k, _ in top] == [c.key for c in res.halloffame]
