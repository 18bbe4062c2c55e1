"""Every kind of bad input is one stderr line and exit code 2: no traceback, no directory made,
nothing in an existing run directory changed (every file's sha256 before and after)."""
import hashlib
import json
import shutil
from pathlib import Path

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
# {grammar}: a grammar whose expr is "x***3"
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
    (SEARCH + ["--workers", "-2", "--out", "{new}"], "--workers must be a non-negative integer"),
    (SEARCH + ["--preset", "paper", "--out", "{new}"], "--preset: only for --task surrogate"),
    (SEARCH + ["--dataset", "cifar10", "--out", "{new}"], "--dataset: only for --task surrogate"),
    (SEARCH + ["--batch-children", "--out", "{new}"], "--batch-children: only for --task surrogate"),
    (SEARCH + ["--algorithm", "random", "--max-redraws", "1", "--out", "{new}"],
     "--max-redraws: not for --algorithm random"),
    (["random", "--seed", "0", "--grammar", "{grammar}"], "x***3"),
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
    return {"run": run, "file": base / "file", "junk": base / "junk", "empty": base / "empty",
            "bad": base / "bad.json", "signtrue": base / "signtrue.json", "grammar": base / "grammar.toml",
            "new": base / "new" / "run"}


def _digests(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


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
