"""The elimination funnel (gp_opt.eliminate): ranking and cut-offs, baselines in every round,
resume after a kill inside a round, bad input; one tiny run through the real surrogate."""
from __future__ import annotations

import hashlib
import json
import math
import os

import pytest

from gp_opt.eliminate import (ELIM_DIR, EliminationError, EliminationSettings, eliminate, parse_rounds,
                              rank_entries)
from gp_opt.fitness import FitnessRecord
from gp_opt.rundir import lock_run
from gp_opt.search import run_search


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A hand-made run: a tiny quadratic search (real genomes in a real log)."""
    run = tmp_path_factory.mktemp("runs") / "q"
    run_search("quadratic", run, 3, 2, 2, seed=0, init_factor=2, verbose=False, task_options={"steps": 10})
    return run


def _quality(opt) -> float:
    """A fixed made-up quality per optimizer: baselines by name, genomes by a hash of their JSON."""
    fixed = {"Adam": 0.60, "SGD": 0.30, "Opt6": 0.70}
    if isinstance(opt, str):
        return fixed[opt]
    h = hashlib.sha256(opt.to_json().encode()).digest()
    return 0.4 + 0.5 * h[0] / 255


class FakeSurrogate:
    """``(optimizers, config) -> records``: accuracy = quality + a small seed/base wobble; logs calls."""

    def __init__(self):
        self.calls: list[tuple[int, int, float | None, int]] = []

    def __call__(self, optimizers, cfg):
        self.calls.append((cfg.base, cfg.seed, cfg.fixed_lr, len(optimizers)))
        out = []
        for o in optimizers:
            acc = _quality(o) + 0.001 * ((cfg.seed * 7 + cfg.base) % 5)
            lr = cfg.fixed_lr if cfg.fixed_lr is not None else 0.01
            out.append(FitnessRecord(fitness=acc, status="ok", best_lr=lr, seconds=0.01,
                                     extra={"best_val_acc": acc, "val_loss": 1.0 - acc}))
        return out


def _strip(summary):
    s = json.loads(json.dumps(summary))
    return s


def test_parse_rounds_and_bad_rounds():
    assert parse_rounds("50:64,24:96,12:128") == [(50, 64), (24, 96), (12, 128)]
    for bad in ("50", "a:64", "10:64,20:96", "0:8"):
        with pytest.raises(EliminationError):
            parse_rounds(bad)


def test_rank_entries_accuracy_then_loss_then_incomplete():
    stats = {"a": {"ok": True, "mean": 0.9, "mean_loss": 0.3}, "b": {"ok": True, "mean": 0.9, "mean_loss": 0.2},
             "c": {"ok": False, "mean": 0.99, "mean_loss": 0.1}, "d": {"ok": True, "mean": 0.95, "mean_loss": 0.5}}
    assert rank_entries(["a", "b", "c", "d"], stats) == ["d", "b", "a", "c"]


def test_funnel_ranking_cutoffs_and_baselines(run_dir, tmp_path):
    fake = FakeSurrogate()
    st = EliminationSettings(preset="tiny", rounds=[(4, 4), (2, 6), (1, 8)], seeds=2,
                             baselines=["Adam", "SGD", "Opt6"])
    summary = eliminate(run_dir, st, evaluator=fake, verbose=False)
    rounds = summary["rounds"]
    assert [r["base"] for r in rounds] == [4, 6, 8]
    cands = [[e for e in r["entries"] if e["kind"] == "candidate"] for r in rounds]
    assert [len(c) for c in cands] == [4, 2, 1]
    for r in rounds:  # baselines in every round, on the same seeds as the candidates
        assert sorted(e["name"] for e in r["entries"] if e["kind"] == "baseline") == ["Adam", "Opt6", "SGD"]
        assert r["seeds"] == [0, 1] and all(len(e["scores"]) == 2 for e in r["entries"])
    # the cut-off keeps the best by mean accuracy, and the next round holds exactly those
    for j in range(2):
        ranked = sorted(cands[j], key=lambda e: -e["mean"])
        keep = {e["name"] for e in ranked[:len(cands[j + 1])]}
        assert {e["name"] for e in cands[j] if e["advanced"]} == keep
        assert {e["name"] for e in cands[j + 1]} == keep
    assert all(e["advanced"] is None for e in rounds[-1]["entries"])
    # tables sorted best first; the winner is the best candidate of the last round
    for r in rounds:
        means = [e["mean"] for e in r["entries"]]
        assert means == sorted(means, reverse=True)
    assert summary["winner"] == cands[-1][0]["name"] and summary["complete"]
    # files: append-only records (one per round, entry and seed), checkpoint, summary, table, genomes
    elim = run_dir / ELIM_DIR
    recs = [json.loads(x) for x in (elim / "records.jsonl").read_text().splitlines()]
    assert len(recs) == sum(len(r["entries"]) * 2 for r in rounds)
    assert json.loads((elim / "summary.json").read_text())["winner"] == summary["winner"]
    assert "| rank | optimizer |" in (elim / "table.md").read_text()
    assert len(list((elim / "genomes").glob("c*.json"))) == 4
    # seed 0 runs the screen (no fixed rate), later seeds reuse the rate the screen chose
    assert all((lr is None) == (seed == 0) for _, seed, lr, _ in fake.calls)
    # a second call is a resume of a finished funnel: nothing is evaluated again
    again = FakeSurrogate()
    assert _strip(eliminate(run_dir, st, evaluator=again, verbose=False))["rounds"] == _strip(summary)["rounds"]
    assert again.calls == []
    # other settings on the same elimination/ are refused
    with pytest.raises(EliminationError, match="other settings"):
        eliminate(run_dir, EliminationSettings(preset="tiny", rounds=[(4, 4)], seeds=2, baselines=["Adam"]),
                  evaluator=FakeSurrogate(), verbose=False)
    import shutil
    shutil.rmtree(elim)


class Killed(Exception):
    pass


def test_resume_after_kill_inside_a_round_equals_uninterrupted(run_dir, tmp_path):
    import shutil
    st = EliminationSettings(preset="tiny", rounds=[(3, 4), (2, 6)], seeds=3, baselines=["Adam", "Opt6"])
    shutil.rmtree(run_dir / ELIM_DIR, ignore_errors=True)
    full = FakeSurrogate()
    ref = eliminate(run_dir, st, evaluator=full, verbose=False)
    ref_records = (run_dir / ELIM_DIR / "records.jsonl").read_text().splitlines()
    shutil.rmtree(run_dir / ELIM_DIR)

    first = FakeSurrogate()

    def kill(n_written):
        if n_written >= 5 + 5:  # round 1 (3 candidates + 2 baselines): seeds 0 and 1 done, seed 2 not
            raise Killed

    with pytest.raises(Killed):
        eliminate(run_dir, st, evaluator=first, verbose=False, after_batch=kill)
    assert not json.loads((run_dir / ELIM_DIR / "summary.json").read_text()
                          if (run_dir / ELIM_DIR / "summary.json").exists() else '{"complete": false}')["complete"]
    second = FakeSurrogate()
    out = eliminate(run_dir, st, evaluator=second, verbose=False)
    assert out["rounds"] == ref["rounds"] and out["winner"] == ref["winner"]
    # no finished evaluation was redone: the two sessions together evaluated what one did
    n = lambda f: sum(c[3] for c in f.calls)  # noqa: E731
    assert n(first) + n(second) == n(full)
    assert (0, 0, None, 5) not in [(b, s, lr, k) for b, s, lr, k in second.calls]
    got = [json.loads(x) for x in (run_dir / ELIM_DIR / "records.jsonl").read_text().splitlines()]
    want = [json.loads(x) for x in ref_records]
    key = lambda r: (r["round"], r["name"], r["seed"], r["val_acc"])  # noqa: E731
    assert sorted(map(key, got)) == sorted(map(key, want))
    shutil.rmtree(run_dir / ELIM_DIR)


def test_fewer_candidates_than_asked_uses_what_there_is(run_dir, capsys):
    import shutil
    st = EliminationSettings(preset="tiny", rounds=[(500, 4)], seeds=1, baselines=["Adam"])
    out = eliminate(run_dir, st, evaluator=FakeSurrogate(), verbose=True)
    n = len([e for e in out["rounds"][0]["entries"] if e["kind"] == "candidate"])
    assert 0 < n < 500 and f"using all {n}" in capsys.readouterr().out and out["notes"]
    shutil.rmtree(run_dir / ELIM_DIR)


def test_unknown_baseline_and_live_writer_refused(run_dir):
    with pytest.raises(EliminationError, match="unknown baseline 'Nope'"):
        eliminate(run_dir, EliminationSettings(preset="tiny", baselines=["Adam", "Nope"]),
                  evaluator=FakeSurrogate(), verbose=False)
    import subprocess
    import sys
    # a live writer (another process holding the run's lock) is refused; nothing is written
    code = ("import sys, time; from gp_opt.rundir import lock_run\n"
            f"with lock_run({str(run_dir)!r}):\n    print('locked', flush=True); time.sleep(30)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "locked"
        from gp_opt.rundir import RunLockedError
        with pytest.raises(RunLockedError, match="being written by process"):
            eliminate(run_dir, EliminationSettings(preset="tiny"), evaluator=FakeSurrogate(), verbose=False)
        assert not (run_dir / ELIM_DIR).exists()
    finally:
        p.kill()
        p.wait()


def test_cli_eliminate_bad_input(run_dir, capsys):
    from gp_opt.cli import main
    assert main(["eliminate", str(run_dir), "--baselines", "Adam,Nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown baseline 'Nope'" in err
    assert main(["eliminate", str(run_dir), "--rounds", "5"]) == 2


def test_tiny_funnel_through_the_surrogate(run_dir):
    """One round, 2 candidates + Adam, 1 seed, a few dozen steps on digits: real records."""
    import shutil
    st = EliminationSettings(preset="tiny", rounds=[(2, 4)], seeds=1, baselines=["Adam"])
    with lock_run(run_dir):
        pass  # the lock is free again: eliminate takes it
    out = eliminate(run_dir, st, verbose=False)
    entries = out["rounds"][0]["entries"]
    assert len(entries) == 3 and out["rounds"][0]["dataset"] == "digits"
    adam = next(e for e in entries if e["name"] == "Adam")
    assert adam["status"] == "ok" and 0.1 < adam["mean"] <= 1.0 and math.isfinite(adam["mean_loss"])
    # the records keep each entry's whole screen curve, not only its best lr (issue 23)
    lines = [json.loads(x) for x in (run_dir / ELIM_DIR / "records.jsonl").read_text().splitlines()]
    adam_line = next(x for x in lines if x["name"] == "Adam")
    rates = [p[0] for p in adam_line["lr_curve"]]
    assert rates == sorted(rates) and len(rates) >= 2 and adam_line["best_lr"] in rates
    shutil.rmtree(run_dir / ELIM_DIR)


def test_cli_eliminate_interrupted_says_how_to_continue(run_dir, capsys, monkeypatch):
    import signal

    import gp_opt.eliminate as E
    from gp_opt.cli import interrupts, main

    def stopped(*args, **kwargs):
        raise interrupts.Interrupted(signal.SIGINT)

    monkeypatch.setattr(E, "eliminate", stopped)
    assert main(["eliminate", str(run_dir), "--baselines", "Adam"]) == 130
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"continue with: gp-opt eliminate {run_dir}" in err


def test_funnel_on_a_process_pool_equals_in_process(tmp_path):
    """Each worker trains its group of a round's entries; only this process writes elimination/,
    and the records come back in submission order: the same funnel as in this process."""
    import shutil

    from gp_opt.search.executors import LocalPool

    run = tmp_path / "q"
    run_search("quadratic", run, 2, 1, 2, seed=1, init_factor=2, verbose=False, task_options={"steps": 10})
    st = EliminationSettings(preset="tiny", rounds=[(2, 4)], seeds=1, baselines=["Adam"], batched=False)
    alone = eliminate(run, st, verbose=False)
    shutil.rmtree(run / ELIM_DIR)
    with LocalPool(2) as pool:
        spread = eliminate(run, st, verbose=False, executor=pool)

    def table(summary):
        return [(e["name"], e["status"], e.get("mean"), e.get("mean_loss")) for e in summary["rounds"][0]["entries"]]

    assert table(spread) == table(alone) and len(table(alone)) == 3


def _line(seq, name, fitness, train_loss):
    from gp_opt import catalog

    stages = [{"stage": "full", "lr": 0.1, "status": "ok", "steps": 120, "train_loss": train_loss,
               "val_loss_history": [[120, -fitness]]}]
    return {"seq": seq, "key": f"fp1:{name}", "individual": catalog.load(name).to_json(),
            "record": {"status": "ok", "fitness": fitness, "best_lr": 0.1, "stages": stages}}


def test_behavioural_twins_are_left_out_and_the_next_one_takes_the_slot():
    from gp_opt.eliminate import best_candidates, search_behaviour

    lines = [_line(0, "Opt6", -0.10, 0.5), _line(1, "Opt10", -0.10, 0.5),  # a twin: every float equal
             _line(2, "RMSProp", -0.10, 0.505),                             # same fitness, losses 1 % apart
             _line(3, "Adam", -0.10, 0.5000001),                            # a near-twin of seq 0
             _line(4, "Momentum", -0.20, 0.7)]
    got = best_candidates(lines, {}, 3)
    assert [e.info["seq"] for e in got] == [0, 2, 4]
    assert got[0].info["twins"] == [1, 3] and got[1].info["twins"] == [] and got[2].info["twins"] == []
    assert search_behaviour(lines[0]["record"]) == search_behaviour(lines[1]["record"])
    # without stages nothing is compared: equal fitness alone is not a twin
    bare = [{**ln, "record": {k: v for k, v in ln["record"].items() if k != "stages"}} for ln in lines]
    assert [e.info["seq"] for e in best_candidates(bare, {}, 3)] == [0, 1, 2]


def _copy_run(run_dir, dest):
    import shutil

    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns(ELIM_DIR, ".lock"))
    return dest


SMALL = dict(preset="tiny", rounds=[(2, 4)], seeds=2, baselines=["Adam"])


def test_records_log_edits_are_refused_and_a_damaged_last_line_is_redone(run_dir, tmp_path, capsys):
    from gp_opt.errors import CheckpointError

    run = _copy_run(run_dir, tmp_path / "run")
    st = EliminationSettings(**SMALL)
    ref = eliminate(run, st, evaluator=FakeSurrogate(), verbose=False)
    log = run / ELIM_DIR / "records.jsonl"
    good = log.read_bytes()
    lines = good.decode().splitlines(keepends=True)
    # an edited val_acc (the winner could change) is refused, naming the file and line; nothing written
    doc = json.loads(lines[1])
    lines[1] = lines[1].replace(json.dumps(doc["val_acc"]), json.dumps(doc["val_acc"] + 0.3))
    log.write_text("".join(lines))
    before = {p.name: p.read_bytes() for p in (run / ELIM_DIR).iterdir() if p.is_file()}
    with pytest.raises(CheckpointError, match=r"records\.jsonl line 2 was edited"):
        eliminate(run, st, evaluator=FakeSurrogate(), verbose=False)
    assert {p.name: p.read_bytes() for p in (run / ELIM_DIR).iterdir() if p.is_file()} == before
    # a damaged last line that still ends in a newline (RecordStore.read glued the next record
    # onto one byte of it): moved aside, said, and that one evaluation done again
    last_start = good.rstrip(b"\n").rfind(b"\n") + 1
    log.write_bytes(good[:last_start] + good[last_start:last_start + 20] + b"\n")
    capsys.readouterr()
    again = FakeSurrogate()
    out = eliminate(run, st, evaluator=again, verbose=False)
    assert sum(c[3] for c in again.calls) == 1
    assert "moved the cut last line of records.jsonl" in capsys.readouterr().err
    assert (log.parent / "records.jsonl.damaged").read_bytes() == good[last_start:last_start + 20] + b"\n"
    assert out["rounds"] == ref["rounds"] and len(log.read_text().splitlines()) == len(lines)
    # cut at a line boundary: the checkpoint counted more; said, and the missing ones redone
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:-2]))
    third = FakeSurrogate()
    out = eliminate(run, st, evaluator=third, verbose=False)
    assert sum(c[3] for c in third.calls) == 2 and out["rounds"] == ref["rounds"]
    assert "checkpoint.json counts" in capsys.readouterr().err


def test_a_symlinked_records_log_or_elimination_folder_is_refused(run_dir, tmp_path):
    from gp_opt.rundir import UnsafePathError

    run = _copy_run(run_dir, tmp_path / "run")
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.jsonl"
    victim.write_text("not yours\n")
    (run / ELIM_DIR).mkdir()
    (run / ELIM_DIR / "records.jsonl").symlink_to(victim)
    with pytest.raises(UnsafePathError, match=r"records\.jsonl is a symbolic link"):
        eliminate(run, EliminationSettings(**SMALL), evaluator=FakeSurrogate(), verbose=False)
    (run / ELIM_DIR / "records.jsonl").unlink()
    (run / ELIM_DIR).rmdir()
    (run / ELIM_DIR).symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="elimination is a symbolic link"):
        eliminate(run, EliminationSettings(**SMALL), evaluator=FakeSurrogate(), verbose=False)
    assert victim.read_text() == "not yours\n" and sorted(os.listdir(outside)) == ["victim.jsonl"]


def test_a_search_log_shorter_than_its_checkpoint_is_refused(run_dir, tmp_path):
    run = _copy_run(run_dir, tmp_path / "run")
    log = run / "candidates.jsonl"
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:6]))
    with pytest.raises(EliminationError, match=r"has 6 complete lines but checkpoint\.json counts \d+"):
        eliminate(run, EliminationSettings(**SMALL), evaluator=FakeSurrogate(), verbose=False)
    assert not (run / ELIM_DIR / "records.jsonl").exists()


def test_buffers_judges_one_memory_cost_in_its_own_folder(run_dir, tmp_path, capsys):
    """``--buffers B``: only candidates keeping B state buffers per parameter enter the funnel, whose
    records, genomes and hold-out go to elimination-buffersB/; elimination/ is left as it was."""
    from gp_opt.card import state_buffers
    from gp_opt.cli import main
    from gp_opt.eliminate.holdout import holdout
    from gp_opt.genome import OptimizerGenome
    from gp_opt.rundir import RunDir

    run = _copy_run(run_dir, tmp_path / "run")
    lines = RunDir.open(run, lock=False).read_candidates()
    counts = {}
    for ln in lines:
        if ln["record"]["status"] == "ok":
            g = OptimizerGenome.from_json(json.dumps(ln["individual"]) if not isinstance(ln["individual"], str)
                                          else ln["individual"])
            counts.setdefault(len(state_buffers(g)), set()).add(ln["key"])
    b = max(counts, key=lambda k: len(counts[k]))
    st = EliminationSettings(preset="tiny", rounds=[(8, 4)], seeds=2, baselines=["Adam"], buffers=b)
    summary = eliminate(run, st, evaluator=FakeSurrogate(), verbose=False)
    folder = run / f"{ELIM_DIR}-buffers{b}"
    assert not (run / ELIM_DIR).exists() and (folder / "records.jsonl").exists()
    files = sorted((folder / "genomes").glob("c*.json"))
    assert len(files) == min(8, len(counts[b])) and summary["settings"]["buffers"] == b
    for f in files:  # every entry keeps exactly b buffers
        assert len(state_buffers(OptimizerGenome.from_json(f.read_text()))) == b
    holdout(run, st, 2, evaluator=FakeSurrogate(), verbose=False)
    assert (folder / "holdout.jsonl").exists() and not (run / ELIM_DIR).exists()
    # a count no candidate keeps: one line naming it; on the command line exit 2 for a bad value
    missing = next(k for k in range(17) if k not in counts)
    with pytest.raises(EliminationError, match=f"with {missing} state buffers"):
        eliminate(run, EliminationSettings(**SMALL, buffers=missing), evaluator=FakeSurrogate(), verbose=False)
    with pytest.raises(SystemExit) as exc:
        main(["eliminate", str(run), "--buffers", "-1"])
    assert exc.value.code == 2 and "--buffers" in capsys.readouterr().err
