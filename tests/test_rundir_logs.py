"""The project's one append-only log (gp_opt.rundir.jsonlog) and writes that never leave a run
directory: edited lines refused by number, cut last lines (with or without their newline) moved
aside, logs older than checksums sealed with a note, symbolic links refused with their targets
unchanged (the log, the lock, the report folder)."""
from __future__ import annotations

import json
import os

import pytest

from gp_opt.errors import CheckpointError
from gp_opt.rundir import JsonLog, RunDir, UnsafePathError, atomic_write_text, lock_run
from gp_opt.rundir.files import check_inside


def _log(d, name="x.jsonl", **kw):
    return JsonLog(d / name, "chain-start", root=d, **kw)


def _written(d, n=3, name="x.jsonl"):
    log = _log(d, name)
    log.read()
    log.append_many([{"i": i, "v": i / 10} for i in range(n)])
    log.close()
    return d / name


def test_lines_round_trip_and_an_edit_anywhere_is_refused_by_line(tmp_path):
    path = _written(tmp_path)
    assert [x["i"] for x in _log(tmp_path).read()] == [0, 1, 2]
    lines = path.read_text().splitlines(keepends=True)
    for k in range(3):  # an edited value on any line, the last one included
        edited = list(lines)
        edited[k] = edited[k].replace(f'"v":{k / 10}', '"v":0.99')
        path.write_text("".join(edited))
        before = path.read_bytes()
        with pytest.raises(CheckpointError, match=rf"x\.jsonl line {k + 1} was edited"):
            _log(tmp_path).read()
        assert path.read_bytes() == before  # refused: nothing changed
    # a dropped line breaks the chain at the next one; a line from another chain at its own
    path.write_text(lines[0] + lines[2])
    with pytest.raises(CheckpointError, match="line 2 was edited"):
        _log(tmp_path).read()
    path.write_text("".join(lines))
    with pytest.raises(CheckpointError, match="line 1 was edited or comes from another run"):
        JsonLog(path, "another-start", root=tmp_path).read()
    # a damaged line before the last, and a line without its checksum
    path.write_text(lines[0] + "garbage\n" + lines[2])
    with pytest.raises(CheckpointError, match="line 2 is damaged"):
        _log(tmp_path).read()
    path.write_text(lines[0] + json.dumps({"i": 1, "v": 0.1}) + "\n")
    with pytest.raises(CheckpointError, match="line 2 has no crc"):
        _log(tmp_path).read()


@pytest.mark.parametrize("tail", [b'{"i": 3, "v"', b'{"i": 3, "v"\n', b"\xff\xfe\n", b"\x00\x00\x00"],
                         ids=["cut", "cut-with-newline", "not-utf8", "zeros"])
def test_a_damaged_last_line_is_moved_aside_and_the_chain_goes_on(tmp_path, tail):
    path = _written(tmp_path)
    good = path.read_bytes()
    path.write_bytes(good + tail)
    log = _log(tmp_path)
    assert len(log.read(repair=False)) == 3 and path.read_bytes() == good + tail  # a reader changes nothing
    assert len(log.read()) == 3
    assert path.read_bytes() == good
    assert (tmp_path / "x.jsonl.damaged").read_bytes() == tail.rstrip(b"\n") + b"\n"
    assert any("moved the cut last line of x.jsonl" in n for n in log.notes)
    log.append({"i": 3, "v": 0.3})  # glued to nothing: the next reader sees four good lines
    log.close()
    assert [x["i"] for x in _log(tmp_path).read()] == [0, 1, 2, 3]


def test_a_last_line_without_its_newline_gets_one_before_the_next_append(tmp_path):
    path = _written(tmp_path)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    log = _log(tmp_path)
    assert len(log.read()) == 3 and path.read_bytes().endswith(b"}\n")
    log.append({"i": 3})
    log.close()
    assert len(_log(tmp_path).read()) == 4


def test_a_log_older_than_checksums_is_read_with_a_note_and_sealed(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text("".join(json.dumps({"i": i}) + "\n" for i in range(3)))
    with pytest.raises(CheckpointError, match="line 1 has no crc"):
        _log(tmp_path).read()  # not allowed: refused
    reader = _log(tmp_path, legacy=True)
    assert len(reader.read(repair=False)) == 3 and "crc" not in path.read_text()
    assert "before gp_opt's logs carried checksums" in reader.notes[0]
    log = _log(tmp_path, legacy=True)
    assert [x["i"] for x in log.read()] == [0, 1, 2] and "sealed now" in log.notes[0]
    assert all('"crc"' in line for line in path.read_text().splitlines())
    log.append({"i": 3})
    log.close()
    assert len(_log(tmp_path).read()) == 4  # sealed: an ordinary checked log now
    path.write_text(path.read_text().replace('"i":1', '"i":7'))
    with pytest.raises(CheckpointError, match="line 2 was edited"):
        _log(tmp_path, legacy=True).read()
    # lines with and without checksums mixed: an edit, refused
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(json.dumps({"i": 0}) + "\n" + "".join(lines[1:]))
    with pytest.raises(CheckpointError, match="line 2 has a checksum but line 1 has none"):
        _log(tmp_path, legacy=True).read()


def test_a_symlinked_log_or_folder_is_refused_and_its_target_unchanged(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "victim.txt"
    target.write_text("keep me\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "x.jsonl").symlink_to(target)
    for action in (lambda log: log.read(), lambda log: log.append({"i": 0})):
        with pytest.raises(UnsafePathError, match="symbolic link"):
            action(_log(run))
    (run / "sub").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match=r"sub is a symbolic link"):
        JsonLog(run / "sub" / "victim.txt", "c", root=run).append({"i": 0})
    with pytest.raises(UnsafePathError, match="symbolic link"):
        atomic_write_text(run / "sub" / "victim.txt", "x", root=run)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        atomic_write_text(run / "x.jsonl", "x")  # a link is never replaced, even without a root
    with pytest.raises(UnsafePathError, match="not inside"):
        check_inside(run, outside / "victim.txt")
    assert target.read_text() == "keep me\n" and sorted(os.listdir(outside)) == ["victim.txt"]


def test_a_named_pipe_as_a_log_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "x.jsonl")
    with pytest.raises(UnsafePathError, match="not a regular file"):
        _log(tmp_path).read()


def test_a_symlinked_lock_is_refused_and_its_target_not_cut(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("precious data\n")
    run = RunDir.create(tmp_path / "run", {"a": 1})
    run.close()
    os.unlink(tmp_path / "run" / ".lock")
    os.symlink(target, tmp_path / "run" / ".lock")
    with pytest.raises(UnsafePathError, match=r"\.lock is a symbolic link"):
        with lock_run(tmp_path / "run"):
            pass
    with pytest.raises(UnsafePathError):
        RunDir.open(tmp_path / "run")
    assert target.read_text() == "precious data\n"


def test_candidates_log_of_a_run_is_the_same_jsonlog(tmp_path):
    """RunDir's candidates.jsonl is a JsonLog chained from the run_id (an existing run's lines
    keep their checksums), and its readers learn when it is shorter than its checkpoint."""
    rd = RunDir.create(tmp_path / "r", {"a": 1})
    line = {"key": "k", "individual": [1], "cache_hit": False, "record": {"fitness": 1.0}}
    rd.append_many([dict(line, seq=i) for i in range(3)])
    rd.save_checkpoint({"step": 0, "n_logged": 3})
    rd.close()
    direct = JsonLog(tmp_path / "r" / "candidates.jsonl", rd.run_id, root=tmp_path / "r", seq=True)
    assert [x["seq"] for x in direct.read(repair=False)] == [0, 1, 2]
    log = tmp_path / "r" / "candidates.jsonl"
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:2]))
    reader = RunDir.open(tmp_path / "r", lock=False)
    reader.read_candidates(repair=False)
    short = reader.log_shortfall(reader.load_checkpoint())
    assert "has 2 complete lines but checkpoint.json counts 3" in short


def test_show_and_the_report_say_when_the_search_log_is_short(tmp_path, capsys):
    from gp_opt.cli import main
    from gp_opt.report.run import load_run
    from gp_opt.search import run_search

    run = tmp_path / "run"
    run_search("toy", run, particles=2, steps=1, children=2, seed=0, init_factor=2, verbose=False)
    log = run / "candidates.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:3]))
    assert main(["show", str(run)]) == 0
    assert f"has 3 complete lines but checkpoint.json counts {len(lines)}" in capsys.readouterr().err
    data = load_run(run)
    assert len(data.candidates) == 3 and any("cut short" in n for n in data.notes)
    # lines edited and re-chained so that each passes: the checkpoint's log_crc still disagrees
    from gp_opt.rundir.jsonlog import line_crc

    rd = RunDir.open(run, lock=False)
    prev, out = rd.run_id, []
    for text in lines:
        doc = json.loads(text)
        doc.pop("crc")
        doc["record"]["fitness"] = 123.0
        prev = line_crc(prev, doc)
        out.append(json.dumps(dict(doc, crc=prev)) + "\n")
    log.write_text("".join(out))
    with pytest.raises(CheckpointError, match="differ from those checkpoint.json was saved with"):
        load_run(run)
    assert main(["show", str(run)]) == 2


def test_an_edited_probe_evaluation_is_refused(tmp_path):
    from gp_opt.probe.run import ProbeSettings, run_probe

    settings = ProbeSettings(task="quadratic", options={"steps": 5, "lrs": [0.1]}, panel=("Adam", "SGD"),
                             random=0, seeds=(0, 1))
    out = tmp_path / "probe"
    run_probe(settings, out)
    log = out / "evaluations.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    doc = json.loads(lines[1])
    log.write_text(lines[0] + lines[1].replace(json.dumps(doc["fitness"]), "0.5") + "".join(lines[2:]))
    with pytest.raises(CheckpointError, match=r"evaluations\.jsonl line 2 was edited"):
        run_probe(settings, out)


def test_cli_resume_refuses_a_symlinked_lock_in_one_line(tmp_path, capsys):
    """The sweep's case: RUN/.lock linked to a file outside was cut to a PID by resume (exit 0)."""
    from gp_opt.cli import main
    from gp_opt.search import run_search

    run = tmp_path / "run"
    run_search("toy", run, particles=2, steps=1, children=2, seed=0, init_factor=2, verbose=False)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious data\n")
    os.unlink(run / ".lock")
    os.symlink(victim, run / ".lock")
    assert main(["resume", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and ".lock is a symbolic link" in err
    assert victim.read_text() == "precious data\n"
