"""Edited, foreign and damaged run directories: refused with a line naming the file, the line or
the field, and nothing changed by a refusing resume; a cut last line is recovered."""
import hashlib
import json
from pathlib import Path

import pytest

from gp_opt.errors import CheckpointError
from gp_opt.rundir import CANDIDATES_FILE, CHECKPOINT_FILE, RUN_FILE, dumps
from gp_opt.rundir.jsonlog import line_crc
from gp_opt.search import resume_search, run_search

from support.runs import log_lines, result_hof, without_timing

ARGS = dict(particles=2, steps=3, children=3, seed=5, init_factor=4)


def _run(path, **kw):
    return run_search("toy", path, **dict(ARGS, **kw), verbose=False)


def _digests(d):
    """Every file's sha256 but the lock's (a resume takes the lock, writing its PID, before it
    reads anything)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(d).iterdir())
            if p.is_file() and p.name != ".lock"}


def _write_lines(d, lines):
    (Path(d) / CANDIDATES_FILE).write_text("".join(json.dumps(x) + "\n" for x in lines))


def _resign_checkpoint(d, edit):
    path = Path(d) / CHECKPOINT_FILE
    doc = json.loads(path.read_text())
    edit(doc["state"])
    doc["sha256"] = hashlib.sha256(dumps(doc["state"]).encode()).hexdigest()
    path.write_text(json.dumps(doc))


def _refused(d, match):
    before = _digests(d)
    with pytest.raises(CheckpointError, match=match) as info:
        resume_search(d, verbose=False)
    assert "\n" not in str(info.value)
    assert _digests(d) == before  # a refusing resume changes nothing
    return str(info.value)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref") / "run"
    res = _run(d)
    return d, res


def _copy(src, dst):
    import shutil
    shutil.copytree(src, dst)
    return dst


def test_an_edited_fitness_in_the_log_is_refused_by_line(finished, tmp_path):
    d = _copy(finished[0], tmp_path / "run")
    lines = log_lines(d)
    lines[3]["record"]["fitness"] = 1e9
    _write_lines(d, lines)
    msg = _refused(d, r"line 4 \(seq 3\) was edited or comes from another run")
    assert CANDIDATES_FILE in msg


def test_a_line_from_another_run_is_refused(finished, tmp_path):
    d = _copy(finished[0], tmp_path / "run")
    other = tmp_path / "other"
    _run(other, seed=6)
    lines, foreign = log_lines(d), log_lines(other)
    lines[2] = foreign[2]
    _write_lines(d, lines)
    _refused(d, r"line 3 \(seq 2\) was edited or comes from another run")


def test_a_log_line_without_record_is_refused_naming_the_field(finished, tmp_path):
    d = _copy(finished[0], tmp_path / "run")
    lines = log_lines(d)
    run_id = json.loads((d / RUN_FILE).read_text())["run_id"]
    prev = run_id
    for i, line in enumerate(lines):  # drop line 1's record and re-sign the chain like a forger
        line.pop("crc")
        if i == 1:
            line.pop("record")
        prev = line["crc"] = line_crc(prev, line)
    _write_lines(d, lines)
    _refused(d, r"line 2: field 'record' is missing")


def test_an_edited_run_json_is_refused(finished, tmp_path):
    d = _copy(finished[0], tmp_path / "run")
    meta = json.loads((d / RUN_FILE).read_text())
    meta["config"]["task"] = "quadratic"
    (d / RUN_FILE).write_text(json.dumps(meta))
    _refused(d, r"run.json was edited")


@pytest.mark.parametrize("edit, match", [
    (lambda s: s.update(step=s["step"] + 1), r"field 'step' is beyond the run's last step"),
    (lambda s: s.update(step=1), r"field 'step' is not its logbook's last step"),
    (lambda s: s.update(step="3"), r"field 'step' is not a non-negative integer"),
    (lambda s: s.update(counters="x"), r"field 'counters' is not an object of counts"),
    (lambda s: s.update(particles=None), r"field 'particles' is not a list of 2 particles"),
    (lambda s: s.update(n_logged=s["n_logged"] - 1), r"does not match candidates.jsonl"),
    (lambda s: s.update(n_logged=10 ** 6), r"counts 1000000 logged candidates"),
    (lambda s: s.pop("log_crc"), r"field 'log_crc' is missing"),
    (lambda s: s["hof"]["items"][0].update(record={"fitness": "high"}), r"hof item 0: field 'record.fitness'"),
    (lambda s: s.update(algorithm="regularized"), r"field 'algorithm' is not the run's 'particle'"),
])
def test_edited_and_re_signed_checkpoint_fields_are_refused_by_name(finished, tmp_path, edit, match):
    d = _copy(finished[0], tmp_path / "run")
    _resign_checkpoint(d, edit)
    _refused(d, match)


def test_a_refusing_resume_trims_no_torn_tail(finished, tmp_path):
    d = _copy(finished[0], tmp_path / "run")
    lines = log_lines(d)
    lines[0]["key"] = "edited"
    _write_lines(d, lines)
    with open(d / CANDIDATES_FILE, "a") as fh:
        fh.write('{"seq": 99, "ke')
    _refused(d, r"line 1 \(seq 0\) was edited")
    assert (d / CANDIDATES_FILE).read_text().endswith('{"seq": 99, "ke')


def test_a_cut_last_line_the_checkpoint_counts_is_evaluated_again(finished, tmp_path, capsys):
    ref_dir, ref = finished
    d = _copy(ref_dir, tmp_path / "run")
    data = (d / CANDIDATES_FILE).read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    cut = data[:last_start + (len(data) - last_start) // 2]
    (d / CANDIDATES_FILE).write_bytes(cut)
    res = resume_search(d, verbose=False)
    err = capsys.readouterr().err
    assert "counts the cut last line" in err and "candidates.jsonl.damaged" in err
    assert (d / "candidates.jsonl.damaged").read_bytes() == cut[last_start:] + b"\n"
    assert result_hof(res) == result_hof(ref)
    assert [without_timing(x) for x in log_lines(d)] == [without_timing(x) for x in log_lines(ref_dir)]


def test_a_torn_tail_after_the_checkpoint_is_moved_aside_and_said(finished, tmp_path, capsys):
    ref_dir, ref = finished
    d = _copy(ref_dir, tmp_path / "run")
    with open(d / CANDIDATES_FILE, "a") as fh:
        fh.write('{"seq": 99, "key": "half')
    res = resume_search(d, verbose=False)
    assert "moved the cut last line" in capsys.readouterr().err
    assert (d / "candidates.jsonl.damaged").read_text() == '{"seq": 99, "key": "half\n'
    assert result_hof(res) == result_hof(ref)
    assert log_lines(d)[-1]["seq"] == len(log_lines(ref_dir)) - 1
