"""The hold-out stage after the funnel (gp_opt.eliminate.holdout): fresh seeds, each entry at its own
last-round rate, baselines compared by Welch's and the paired t-test; resume after a kill; refusals."""
from __future__ import annotations

import json
import shutil

import pytest

from gp_opt.eliminate import ELIM_DIR, EliminationError, EliminationSettings, eliminate
from gp_opt.eliminate.holdout import HOLDOUT_RECORDS, holdout, holdout_seeds
from gp_opt.search import run_search
from tests.test_eliminate import FakeSurrogate, _quality


@pytest.fixture()
def funnel(tmp_path):
    run = tmp_path / "q"
    run_search("quadratic", run, 3, 2, 2, seed=0, init_factor=2, verbose=False, task_options={"steps": 10})
    st = EliminationSettings(preset="tiny", rounds=[(4, 4), (2, 6)], seeds=2, baselines=["Adam", "SGD", "Opt6"])
    summary = eliminate(run, st, evaluator=FakeSurrogate(), verbose=False)
    return run, st, summary


class Noisy(FakeSurrogate):
    """Accuracy = quality + a per-seed offset shared by every entry (what a paired test removes)."""

    def __call__(self, optimizers, cfg):
        out = super().__call__(optimizers, cfg)
        for r in out:
            shift = 0.2 * ((cfg.seed * 37) % 7 - 3)
            r.extra["best_val_acc"] += shift
            r.extra["val_loss"] = 1.0 - r.extra["best_val_acc"]
        return out


def test_holdout_trains_the_last_round_on_fresh_seeds_at_their_rates(funnel):
    run, st, summary = funnel
    fake = Noisy()
    out = holdout(run, st, 4, evaluator=fake, verbose=False)
    assert out["seeds"] == holdout_seeds(st, 4) == [2, 3, 4, 5]  # none of the funnel's seeds 0, 1
    last = summary["rounds"][-1]
    finished = {e["name"] for e in last["entries"] if e["status"] == "ok"}
    assert {e["name"] for e in out["entries"]} == finished and "Adam" in finished
    # every call at the last round's base, a fixed rate (no screen), only fresh seeds
    assert fake.calls and all(b == last["base"] and lr is not None and s >= 2 for b, s, lr, _ in fake.calls)
    # each entry at the rate its first seed chose in the last round
    recs = [json.loads(x) for x in (run / ELIM_DIR / "records.jsonl").read_text().splitlines()]
    chose = {r["name"]: r["best_lr"] for r in recs if r["round"] == 1 and r["seed"] == 0}
    assert all(e["lr"] == chose[e["name"]] for e in out["entries"])
    # the comparisons: a shared per-seed offset hides a fixed gap from Welch but not from the paired test
    adam = next(e for e in out["entries"] if e["name"] == "Adam")
    opt6 = next(e for e in out["entries"] if e["name"] == "Opt6")
    v = opt6["versus"]["Adam"]["acc"]
    assert v["diff"] == pytest.approx(_quality("Opt6") - _quality("Adam"), abs=1e-9)
    assert v["p_paired"] < 1e-6 < 0.05 < v["p"]
    assert "Adam" not in adam["versus"] and set(adam["versus"]) <= {"SGD", "Opt6"}
    # candidates are tested together against each baseline: Holm-adjusted paired p, never below the raw one
    cands = [e for e in out["entries"] if e["kind"] == "candidate" and e["versus"]]
    assert len(cands) >= 2 and "p_paired_holm" not in v
    for ref in ("Adam", "Opt6"):
        raw = sorted(e["versus"][ref]["acc"]["p_paired"] for e in cands)
        adj = sorted(e["versus"][ref]["acc"]["p_paired_holm"] for e in cands)
        assert adj[0] == pytest.approx(min(1.0, len(cands) * raw[0]))
        assert all(a >= r for a, r in zip(adj, raw))
    table = (run / ELIM_DIR / "holdout.md").read_text()
    assert "fresh seeds 2-5" in table and "acc. vs Adam" in table
    assert json.loads((run / ELIM_DIR / "holdout.json").read_text())["settings"]["holdout"] == 4


class Killed(Exception):
    pass


def test_holdout_resumes_after_a_kill_without_redoing_a_record(funnel):
    run, st, _ = funnel
    full = Noisy()
    ref = holdout(run, st, 3, evaluator=full, verbose=False)
    (run / ELIM_DIR / HOLDOUT_RECORDS).unlink()

    def kill(n):
        if n >= 2:
            raise Killed

    first = Noisy()
    with pytest.raises(Killed):
        holdout(run, st, 3, evaluator=first, verbose=False, after_batch=kill)
    second = Noisy()
    out = holdout(run, st, 3, evaluator=second, verbose=False)
    n = lambda f: sum(c[3] for c in f.calls)  # noqa: E731
    assert n(first) + n(second) == n(full)
    assert [e["val_acc"] for e in out["entries"]] == [e["val_acc"] for e in ref["entries"]]


def test_holdout_refuses_an_unfinished_or_other_funnel(funnel, tmp_path):
    run, st, _ = funnel
    with pytest.raises(EliminationError, match="other settings"):
        holdout(run, EliminationSettings(preset="tiny", rounds=[(4, 4)], seeds=2, baselines=["Adam"]), 3,
                evaluator=Noisy(), verbose=False)
    with pytest.raises(EliminationError, match="at least 2"):
        holdout(run, st, 1, evaluator=Noisy(), verbose=False)
    shutil.rmtree(run / ELIM_DIR)
    with pytest.raises(EliminationError, match="has not finished"):
        holdout(run, st, 3, evaluator=Noisy(), verbose=False)


def test_cli_eliminate_with_holdout_on_the_surrogate(tmp_path, capsys):
    from gp_opt.cli import main

    run = tmp_path / "q"
    run_search("quadratic", run, 2, 1, 2, seed=1, init_factor=2, verbose=False, task_options={"steps": 10})
    assert main(["eliminate", str(run), "--preset", "tiny", "--rounds", "1:4", "--seeds", "1",
                 "--baselines", "Adam", "--holdout", "1"]) == 2
    assert "--holdout 1" in capsys.readouterr().err
    assert main(["eliminate", str(run), "--preset", "tiny", "--rounds", "2:4", "--seeds", "1",
                 "--baselines", "Adam", "--holdout", "2", "-q"]) == 0
    out = json.loads((run / ELIM_DIR / "holdout.json").read_text())
    assert out["seeds"] == [1, 2] and any(e["name"] == "Adam" and e["ok"] for e in out["entries"])


def test_an_edited_holdout_line_is_refused_and_a_cut_one_redone(funnel, capsys):
    from gp_opt.errors import CheckpointError

    run, st, _ = funnel
    ref = holdout(run, st, 2, evaluator=FakeSurrogate(), verbose=False)
    log = run / ELIM_DIR / HOLDOUT_RECORDS
    good = log.read_text()
    lines = good.splitlines(keepends=True)
    doc = json.loads(lines[0])
    log.write_text(lines[0].replace(json.dumps(doc["val_acc"]), json.dumps(doc["val_acc"] + 0.2)) + "".join(lines[1:]))
    with pytest.raises(CheckpointError, match=r"holdout\.jsonl line 1 was edited"):
        holdout(run, st, 2, evaluator=FakeSurrogate(), verbose=False)
    log.write_text("".join(lines[:-1]) + lines[-1][:30])
    again = FakeSurrogate()
    out = holdout(run, st, 2, evaluator=again, verbose=False)
    assert sum(c[3] for c in again.calls) == 1 and "moved the cut last line" in capsys.readouterr().err
    assert out["entries"] == ref["entries"]
