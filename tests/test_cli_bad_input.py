"""Every kind of bad input is one stderr line and exit code 2: no traceback, no directory made,
nothing in an existing run directory changed (every file's sha256 before and after)."""
import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from gp_opt.cli import main
from gp_opt.search import run_search

ROOT = Path(__file__).resolve().parents[1]
SEARCH = ["search", "--task", "quadratic", "--particles", "1", "--steps", "1", "--children", "1"]
CUDA = "this torch is built without CUDA" if torch.version.cuda is None else "no GPU is visible"

# (argv with placeholders, a piece of the expected message); {run}: a finished run directory,
# {new}: a path that must stay absent, {file}: a plain file, {junk}: a folder holding other files,
# {empty}: an empty folder, {bad}: a genome file with bad JSON, {signtrue}: sign true,
# {grammar}: a grammar whose expr is "x***3", {nonutf8}: a genome file that is not UTF-8, {pipe} and
# {pipejson}: named pipes, {evilcifar}: CIFAR batches that would run os.system when unpickled
ROWS = [
    (["random", "--seed", "-1"], "--seed: must be a non-negative integer, got -1"),
    (SEARCH + ["--seed", "-1", "--out", "{new}"], "--seed: must be a non-negative integer"),
    (["evaluate", "adam", "--seed", "-1"], "--seed: must be a non-negative integer"),
    (["evaluate", "adam", "--device", "cuda"] if not torch.cuda.is_available() else
     ["evaluate", "adam", "--device", "cuda:99"], CUDA if not torch.cuda.is_available() else "GPU(s)"),
    (["evaluate", "adam", "--device", "tpu9"], "'tpu9': not a device; use one of auto, cpu, cuda"),
    (["evaluate", "adam", "--device", ""], "not a device"),
    (["search", "--task", "surrogate", "--particles", "1", "--steps", "1", "--children", "1",
      "--set", "device=tpu9", "--out", "{new}"], "--set device 'tpu9': not a device"),
    (SEARCH + ["--set", "steps=abc", "--out", "{new}"], "steps must be an integer for task 'quadratic'"),
    (SEARCH + ["--workers", "-2", "--out", "{new}"], "--workers: must be a non-negative integer"),
    (SEARCH + ["--preset", "paper", "--out", "{new}"], "--preset: only for --task surrogate"),
    (SEARCH + ["--dataset", "cifar10", "--out", "{new}"], "--dataset: only for --task surrogate"),
    (SEARCH + ["--batch-children", "--out", "{new}"], "--batch-children: only for --task surrogate"),
    (SEARCH + ["--algorithm", "random", "--max-redraws", "1", "--out", "{new}"],
     "--max-redraws: not for --algorithm random"),
    (SEARCH + ["--algorithm", "random", "--noise-aware", "--out", "{new}"], "--noise-aware: not for --algorithm random"),
    (SEARCH + ["--race-seeds", "3", "--out", "{new}"], "--race-seeds: only with --noise-aware"),
    (SEARCH + ["--noise-aware", "--eval-seeds", "fixed", "--out", "{new}"], "--noise-aware: needs --eval-seeds per-candidate"),
    (SEARCH + ["--task", "surrogate", "--batch-children", "--eval-seeds", "per-candidate", "--out", "{new}"],
     "--batch-children trains a step's children together on one seed"),
    (["random", "--seed", "0", "--grammar", "{grammar}"], "x***3"),
    (SEARCH + ["--fix-update", "Adamm", "--out", "{new}"], "--fix-update 'Adamm': unknown catalog entry"),
    (SEARCH + ["--fix-update", "QHM", "--out", "{new}"], "uses the operand 'qhm_g', which grammar 'default' does not have"),
    (SEARCH + ["--fix-update", "Adam", "--init-from", "Opt6", "--out", "{new}"], "--fix-update: not with"),
    (["simplify", "{bad}"], "bad"),
    (["explain", "{nonutf8}"], "UTF-8"),
    (["simplify", "Opt1", "--tol", "-1"], "--tol"),
    (["resume", "{file}"], "is a file, not a run directory"),
    (["resume", "{new}"], "is not a run directory (it does not exist)"),
    (["resume", "{empty}"], "is not a gp_opt run directory (no run.json"),
    (["resume", "{run}", "--bogus"], "unrecognized arguments: --bogus"),
    (SEARCH + ["--out", "{junk}"], "is not empty and holds no run"),
    (SEARCH + ["--out", "{run}"], "already holds a run; continue it with 'gp-opt resume"),
    (SEARCH + ["--out", "{file}"], "is a file; choose a new --out"),
    (["search", "--task", "quadratic", "--particles", "0", "--steps", "1", "--children", "1", "--out", "{new}"],
     "--particles: must be a positive integer, got 0"),
    (["search", "--task", "quadratic", "--particles", "abc", "--steps", "1", "--children", "1", "--out", "{new}"],
     "--particles: expected an integer, got 'abc'"),
    (["search", "--task", "quadratic", "--particles", "1", "--steps", "-1", "--children", "1", "--out", "{new}"],
     "--steps: must be a positive integer"),
    (["search", "--task", "quadratic", "--particles", "1", "--steps", "1", "--children", "0", "--out", "{new}"],
     "--children: must be a positive integer"),
    (SEARCH + ["--init-factor", "0", "--out", "{new}"], "--init-factor: must be a positive integer"),
    (SEARCH + ["--max-redraws", "-1", "--out", "{new}"], "--max-redraws: must be a non-negative integer"),
    (SEARCH + ["--algorithm", "foo", "--out", "{new}"], "--algorithm: invalid choice: 'foo'"),
    (SEARCH + ["--key", "foo", "--out", "{new}"], "--key: invalid choice"),
    (["search", "--task", "nope", "--particles", "1", "--steps", "1", "--children", "1", "--out", "{new}"],
     "'nope'"),  # argparse's choices, or the task check once module:function tasks are allowed
    (SEARCH + ["--set", "noequals", "--out", "{new}"], "--set 'noequals': expected KEY=VALUE"),
    (SEARCH + ["--set", "unknown=1", "--out", "{new}"], "task 'quadratic' has no such option; it accepts"),
    (SEARCH + ["--set", "lrs=[]", "--out", "{new}"], "lrs must be a non-empty list of numbers"),
    (SEARCH + ["--set", "lrs=[-1]", "--out", "{new}"], "every learning rate must be > 0"),
    (SEARCH + ["--set", "lrs=[0.1, NaN]", "--out", "{new}"], "lrs must be a non-empty list"),
    (SEARCH + ["--set", "dim=0", "--out", "{new}"], "dim must be at least 1"),
    (SEARCH + ["--set", "noise=-1", "--out", "{new}"], "noise must not be negative"),
    (SEARCH + ["--set", "steps=1.5", "--out", "{new}"], "steps must be an integer"),
    (SEARCH + ["--set", "seed=-3", "--out", "{new}"], "seed must not be negative"),
    (SEARCH + ["--set", "steps=true", "--out", "{new}"], "steps must be an integer"),
    (SEARCH, "the following arguments are required: --out"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "the following arguments are required: VERB"),
    (["show", "{new}"], "{new}"),
    (["show", "{bad}"], "malformed JSON"),
    (["show", "{signtrue}"], "sign must be 1 or -1 (an integer), got True"),
    (["show", "Adam", "--simplify", "-1"], "--simplify: must be a finite number >= 0"),
    (["latex", "--table", "--expand", "Adam"], "--expand does not apply to --table"),
    (["latex", "--form", "schedule", "Adam"], "--form only applies to --table"),
    (["show", "{file}"], "malformed JSON"),
    # issue 22 item 8: files that are not UTF-8 or not regular files, on every genome path
    (["show", "{nonutf8}"], "{nonutf8}: not UTF-8 text (byte 0xff at offset 1)"),
    (["latex", "{nonutf8}"], "not UTF-8 text"),
    (["export", "{nonutf8}", "--torch", "{new}"], "not UTF-8 text"),
    (["show", "{pipe}"], "{pipe}: not a regular file (a named pipe)"),
    (["latex", "{pipejson}"], "not a regular file (a named pipe)"),
    (["evaluate", "adam", "--dataset", "npz", "--data-dir", "{pipe}"], "not a regular file (a named pipe)"),
    # seeds and counts: an upper bound where a number can be absurd
    (SEARCH + ["--seed", "99999999999999999999999", "--out", "{new}"], "--seed: must be at most 4294967295"),
    (["random", "--seed", "4294967296"], "--seed: must be at most 4294967295, got 4294967296"),
    (["search", "--task", "quadratic", "--particles", "12345678901234567890123456", "--steps", "1", "--children",
      "1", "--out", "{new}"], "--particles: must be at most 1000000"),
    (SEARCH + ["--init-factor", "99999999", "--out", "{new}"], "--init-factor: must be at most"),
    (SEARCH + ["--set", "steps=1e20", "--out", "{new}"], "steps must be an integer"),
    (SEARCH + ["--set", "steps=100000000000", "--out", "{new}"], "steps must be at most 1000000000"),
    (SEARCH + ["--set", "seed=4294967296", "--out", "{new}"], "seed must be at most 4294967295"),
    # executor options, checked before any pool or Ray starts
    (SEARCH + ["--max-retries", "-1", "--out", "{new}"], "--max-retries: must be a non-negative integer, got -1"),
    (SEARCH + ["--max-retries", "1000000", "--out", "{new}"], "--max-retries: must be at most 100"),
    (["resume", "{run}", "--workers", "-3"], "--workers: must be a non-negative integer, got -3"),
    (["eliminate", "{run}", "--workers", "-2"], "--workers: must be a non-negative integer, got -2"),
    (SEARCH + ["--executor", "ray", "--gpus-per-eval", "nan", "--out", "{new}"],
     "--gpus-per-eval: must be a finite number >= 0"),
    (SEARCH + ["--executor", "ray", "--cpus-per-eval", "0", "--out", "{new}"], "--cpus-per-eval: must be a finite number > 0"),
    # eliminate: --set, seeds, rounds and baselines before the funnel runs
    (["eliminate", "{run}", "--set", "total_steps=abc"], "--set total_steps='abc': total_steps must be an integer"),
    (["eliminate", "{run}", "--set", "total_steps=0"], "total_steps must be at least 1"),
    (["eliminate", "{run}", "--set", "bogus=1"], "--set 'bogus': SurrogateConfig has no such option"),
    (["eliminate", "{run}", "--set", "base=64"], "--set 'base': SurrogateConfig has no such option"),
    (["eliminate", "{run}", "--holdout", "12345678901234567890"], "--holdout: must be at most 1000"),
    (["eliminate", "{run}", "--holdout", "1"], "--holdout 1: at least 2 seeds"),
    (["eliminate", "{run}", "--seeds", "12345678901234567890"], "--seeds: must be at most 1000"),
    (["eliminate", "{run}", "--seeds", "0"], "--seeds: must be a positive integer"),
    (["eliminate", "{run}", "--rounds", ""], "--rounds '': no value given"),
    (["eliminate", "{run}", "--rounds", "8:99999"], "BASE at most 4096"),
    (["eliminate", "{run}", "--baselines", ""], "--baselines '': no value given"),
    (["eliminate", "{run}", "--baselines", " , "], "--baselines ' , ': no value given"),
    (["eliminate", "{run}", "--baselines", "Adam,Nope"], "unknown baseline 'Nope'"),
    # transfer: tasks, --set per field, learning rates, counts
    (["transfer", "Adam", "--tasks", "", "-o", "{new}"], "--tasks '': no value given"),
    (["transfer", "Adam", "--tasks", "diabetes", "--set", "steps=-1", "-o", "{new}"], "steps must be at least 1"),
    (["transfer", "Adam", "--tasks", "diabetes", "--set", "steps=1e20", "-o", "{new}"],
     "steps must be an integer for task 'diabetes'"),
    (["transfer", "Adam", "--tasks", "diabetes", "--set", "diabetes.steps=abc", "-o", "{new}"],
     "--set diabetes.steps='abc'"),
    (["transfer", "Adam", "--tasks", "diabetes", "--set", "warmup=2", "-o", "{new}"], "warmup must be within [0, 1]"),
    (["transfer", "Adam", "--tasks", "diabetes", "--lrs", "inf", "-o", "{new}"], "--lrs: learning rates must be finite"),
    (["transfer", "Adam", "--tasks", "diabetes", "--lrs", "", "-o", "{new}"], "--lrs '': no value given"),
    (["transfer", "Adam", "--seeds", "0", "-o", "{new}"], "--seeds: must be a positive integer"),
    (["transfer", "Adam", "--threads", "99999", "-o", "{new}"], "--threads: must be at most 1024"),
    # report: numbers and formats checked before the report folder is made
    (["report", "{run}", "--simplify", "-1"], "--simplify: must be a finite number >= 0"),
    (["report", "{run}", "--formats", "bmp"], "--formats 'bmp': not a figure format; use png, pdf, svg"),
    (["report", "{run}", "--formats", ""], "--formats '': no value given"),
    (["report", "{run}", "--top", "0"], "--top: must be a positive integer"),
    (["show", "Adam", "--simplify", "nan"], "--simplify: must be a finite number"),
    (["latex", "Adam", "--simplify", "-1"], "--simplify: must be a finite number"),
    (SEARCH + ["--init-from", "", "--out", "{new}"], "--init-from '': no value given"),
    (["probe-fitness", "--task", "quadratic", "--panel", " ", "--out", "{new}"], "--panel ' ': no value given"),
    (["plot", "Adam", "--schedule", "--compare", ",", "-o", "{new}"], "--compare ',': no value given"),
    # today's verbs and search options (2026-12-06): probe-fitness, rediscover, simplify, explain,
    # random search with GA-only options, fitness seeds, multi-task lists, resume --task
    (["probe-fitness", "--task", "quadratic", "--panel", "Adam,adam", "--out", "{new}"], "'adam' named twice"),
    (["probe-fitness", "--task", "quadratic", "--seeds", "1", "--out", "{new}"], "at least 2 seeds, got 1"),
    (["probe-fitness", "--task", "toy", "--out", "{new}"], "--task toy is not an optimizer fitness"),
    (["probe-fitness", "--task", "quadratic+nope", "--out", "{new}"], "unknown task 'nope' in 'quadratic+nope'"),
    (["probe-fitness", "--task", "quadratic", "--preset", "digits", "--out", "{new}"], "--preset: only for --task surrogate"),
    (["probe-fitness", "--task", "quadratic", "--fitness-seeds", "0", "--out", "{new}"], "--fitness-seeds: must be a positive"),
    (["probe-fitness", "--task", "quadratic", "--out", "{file}"], "is not a probe directory"),
    (["rediscover", "Adam", "--budget", "300", "--out", "{file}"], "not a rediscovery directory"),
    (["rediscover", "Adam", "--budget", "300", "--particles", "0", "--out", "{new}"], "--particles: must be a positive"),
    (["rediscover", "Adamm", "--budget", "300", "--out", "{new}"], "unknown catalog entry 'Adamm'"),
    (["simplify", "Opt1", "--tol", "nan"], "--tol: must be a finite number"),
    (["simplify", "Nope"], "unknown catalog entry 'Nope'"),
    (["explain", "Opt1", "--top", "0"], "--top: must be a positive integer"),
    (["explain", "{empty}"], "{empty}: a folder, not a run directory (no run.json) nor a genome file"),
    (["simplify", "{junk}"], "{junk}: a folder, not a run directory"),
    (SEARCH + ["--algorithm", "random", "--init-from", "Adam", "--out", "{new}"], "--init-from: not for --algorithm random"),
    (SEARCH + ["--algorithm", "random", "--objectives", "fitness,memory", "--out", "{new}"],
     "--objectives: not for --algorithm random"),
    (SEARCH + ["--fitness-seeds", "0", "--out", "{new}"], "--fitness-seeds: must be a positive integer, got 0"),
    (SEARCH + ["--fitness-baseline", "Nope", "--out", "{new}"], "unknown optimizer 'Nope'"),
    (["search", "--task", "toy", "--particles", "1", "--steps", "1", "--children", "1", "--fitness-seeds", "2",
      "--out", "{new}"], "--fitness-seeds: not for the toy task"),
    (["search", "--task", "quadratic+nope", "--particles", "1", "--steps", "1", "--children", "1", "--out", "{new}"],
     "unknown task 'nope' in 'quadratic+nope'"),
    (["search", "--task", "quadratic+quadratic", "--particles", "1", "--steps", "1", "--children", "1", "--out",
      "{new}"], "names a task twice"),
    (["search", "--task", "quadratic+rosenbrock", "--set", "multitask_rule=foo", "--particles", "1", "--steps", "1",
      "--children", "1", "--out", "{new}"], "multitask_rule='foo': use one of"),
    (["resume", "{run}", "--task", "quadratic"], "a run continues with its own task"),
    # issue 22 item 7: a CIFAR batch that would run code is refused, and runs nothing
    (["evaluate", "adam", "--dataset", "cifar10", "--data-dir", "{evilcifar}"],
     "data_batch_1: refused: the pickle calls"),
]


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    base = tmp_path_factory.mktemp("bad")
    run = base / "run"
    run_search("toy", run, particles=2, steps=1, children=2, seed=1, init_factor=2, verbose=False)
    (base / "file").write_text("just a file\n")
    (base / "junk").mkdir()
    (base / "junk" / "notes.txt").write_text("mine\n")
    (base / "empty").mkdir()
    (base / "bad.json").write_text('{"schema": 1, "nodes": ')
    from gp_opt import catalog
    d = catalog.get("Adam").to_dict()
    d["sign"] = True
    (base / "signtrue.json").write_text(json.dumps(d))
    text = (ROOT / "grammar" / "default.toml").read_text()
    (base / "grammar.toml").write_text(text.replace('expr = "g**2"', 'expr = "x***3"', 1))
    (base / "nonutf8.json").write_bytes(b'{\xff"schema": 1}')
    os.mkfifo(base / "pipe")
    os.mkfifo(base / "pipe.json")
    evil = base / "evilcifar" / "cifar-10-batches-py"
    evil.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1],
                 b"x": _System(f"touch {base / 'evilcifar' / 'ran'}")}
        (evil / name).write_bytes(pickle.dumps(batch, protocol=2))
    return {"run": run, "file": base / "file", "junk": base / "junk", "empty": base / "empty",
            "bad": base / "bad.json", "signtrue": base / "signtrue.json", "grammar": base / "grammar.toml",
            "nonutf8": base / "nonutf8.json", "pipe": base / "pipe", "pipejson": base / "pipe.json",
            "evilcifar": base / "evilcifar", "new": base / "new" / "run"}


class _System:
    """Unpickled naively, this runs ``os.system(command)``."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _digests(folder):
    """Every path under ``folder``: a file's sha256, "dir" for a folder (an empty one left behind
    counts), the kind of anything else (the named pipes)."""
    def digest(p):
        if p.is_dir():
            return "dir"
        if not p.is_file():
            return "other"
        return hashlib.sha256(p.read_bytes()).hexdigest()

    return {str(p.relative_to(folder)): digest(p) for p in sorted(Path(folder).rglob("*"))}


def _run(argv, capsys):
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.err


def test_the_table_has_at_least_30_kinds_of_bad_input():
    assert len(ROWS) >= 30


@pytest.mark.parametrize("argv, expected", ROWS, ids=[" ".join(r[0])[:60] for r in ROWS])
def test_bad_input_is_one_line_and_exit_2(places, capsys, argv, expected):
    argv = [a.format(**places) for a in argv]
    expected = expected.format(**places)
    before = _digests(places["run"].parent)
    code, err = _run(argv, capsys)
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gp-opt"), err
    assert expected in lines[0], lines[0]
    assert not places["new"].exists() and not places["new"].parent.exists()
    assert _digests(places["run"].parent) == before  # nothing changed, the run directory included


def test_a_resume_refused_for_an_edited_run_changes_nothing(places, capsys, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(places["run"], run)
    lines = (run / "candidates.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["record"]["fitness"] = 99.0
    lines[0] = json.dumps(first)
    (run / "candidates.jsonl").write_text("\n".join(lines) + "\n" + '{"seq": 50, "ha')
    before = _digests(run)
    code, err = _run(["resume", str(run)], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert "line 1 (seq 0) was edited" in err
    assert _digests(run) == before  # the torn tail is still there: a refusing resume trims nothing


def test_evaluate_download_without_a_network_writes_nothing(places, capsys, monkeypatch):
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network here")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    code, err = _run(["evaluate", "adam", "--dataset", "cifar10", "--data-dir", str(places["new"]), "--download"],
                     capsys)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "could not download https://www.cs.toronto.edu/" in err and "no network here" in err
    assert not places["new"].exists() and not places["new"].parent.exists()  # the data folder was not made


def test_from_file_on_a_file_that_is_not_utf8_is_a_genome_error(places):
    from gp_opt.errors import GenomeError
    from gp_opt.optim import EvolvedOptimizer

    param = torch.zeros(2, requires_grad=True)
    with pytest.raises(GenomeError, match="not UTF-8 text"):
        EvolvedOptimizer.from_file(places["nonutf8"], [param], lr=0.1)
    with pytest.raises(GenomeError, match="not a regular file"):
        EvolvedOptimizer.from_file(places["pipejson"], [param], lr=0.1)


def test_resume_of_a_run_recording_a_huge_seed_is_one_line(places, capsys, tmp_path):
    # what a search started with such a seed before seeds were bounded left: run.json, and no
    # candidate (torch refused the seed as the first one was drawn)
    run = tmp_path / "run"
    run.mkdir()
    (run / "candidates.jsonl").write_text("")
    meta = json.loads((places["run"] / "run.json").read_text())
    meta["config"]["seed"] = 10**23
    from gp_opt.rundir.core import meta_digest
    meta["sha256"] = meta_digest(meta)
    (run / "run.json").write_text(json.dumps(meta))
    before = _digests(run)
    code, err = _run(["resume", str(run)], capsys)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "Traceback" not in err and "seed" in err, err
    assert _digests(run) == before
