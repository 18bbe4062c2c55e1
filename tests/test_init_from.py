"""Warm starts (gp-opt search --init-from): known optimizers in the initial population, through the
integrity check, the cache and the log; kept across a resume; bad names refused before any work."""
from __future__ import annotations

import json

import pytest

from gp_opt import catalog, integrity
from gp_opt.errors import GpOptError
from gp_opt.search import resume_search, run_search
from gp_opt.search.warmstart import parse_init_from, prepare_init_from

from support.runs import log_lines


def test_parse_init_from():
    assert parse_init_from("Adam, Opt6,,") == ["Adam", "Opt6"]
    assert parse_init_from(["Adam,Opt6", "x.json"]) == ["Adam", "Opt6", "x.json"]
    assert parse_init_from(None) == []


def test_warm_started_candidates_are_logged_first(tmp_path):
    genome_file = tmp_path / "mine.json"
    genome_file.write_text(catalog.get("Opt10").to_json())
    run = tmp_path / "run"
    res = run_search("quadratic", run, 2, 1, 2, seed=0, init_factor=2, verbose=False,
                     task_options={"steps": 10}, init_from=f"Adam,Opt6,{genome_file}")
    lines = log_lines(run)
    init = [x for x in lines if x["phase"] == "init"]
    assert len(init) == 3 + 2 * 2  # the warm starts come on top of the random ones
    assert [x.get("origin") for x in init[:3]] == ["Adam", "Opt6", "Opt10"]
    assert all("origin" not in x for x in init[3:])
    assert [x["slot"] for x in init] == list(range(len(init)))
    # they passed the integrity check (its sign applied) and were evaluated like any candidate
    adam = catalog.get("Adam")
    checked = integrity.apply(adam, integrity.check(adam))
    indiv = init[0]["individual"]
    assert (json.loads(indiv) if isinstance(indiv, str) else indiv)["sign"] == checked.sign
    assert all(x["record"]["status"] in ("ok", "rejected", "failed") for x in init[:3])
    assert not init[0]["cache_hit"]
    # the run's config keeps the resolved genomes: a resume rebuilds the same population
    cfg = json.loads((run / "run.json").read_text())["config"]
    assert [d["name"] for d in cfg["init_from"]] == ["Adam", "Opt6", "Opt10"]
    again = resume_search(run, verbose=False)
    assert [c.key for c in again.halloffame] == [c.key for c in res.halloffame]
    assert len(log_lines(run)) == len(lines)


def test_a_warm_start_twice_is_a_cache_hit(tmp_path):
    run = tmp_path / "run"
    run_search("quadratic", run, 2, 1, 1, seed=1, init_factor=1, verbose=False, task_options={"steps": 10},
               init_from=["Opt6", "Opt6"])
    init = [x for x in log_lines(run) if x["phase"] == "init"]
    assert init[0]["key"] == init[1]["key"] and not init[0]["cache_hit"] and init[1]["cache_hit"]


def test_unknown_name_or_missing_file_refused_before_anything_is_written(tmp_path):
    for bad, words in (("Adam,NoSuchOpt", "'NoSuchOpt'"), (str(tmp_path / "missing.json"), "missing.json")):
        run = tmp_path / "never"
        with pytest.raises(GpOptError, match=words):
            run_search("quadratic", run, 2, 1, 1, verbose=False, init_from=bad)
        assert not run.exists()


def test_prepare_drops_a_genome_failing_the_integrity_check(capsys):
    # the integrity check with an impossible bar: every genome fails it and is left out, with a note
    cfg = integrity.IntegrityConfig(threshold=-1e9)
    assert prepare_init_from("Adam", integrity_config=cfg) == []
    assert "fails the integrity check" in capsys.readouterr().err


def test_cli_init_from(tmp_path, capsys):
    from gp_opt.cli import main
    assert main(["search", "--task", "quadratic", "--particles", "2", "--steps", "1", "--children", "1",
                 "--init-factor", "1", "--init-from", "Opt6", "--out", str(tmp_path / "r"), "-q"]) == 0
    assert log_lines(tmp_path / "r")[0]["origin"] == "Opt6"
    assert main(["search", "--task", "quadratic", "--particles", "2", "--steps", "1", "--children", "1",
                 "--init-from", "Bogus", "--out", str(tmp_path / "r2"), "-q"]) == 2
    assert "'Bogus'" in capsys.readouterr().err and not (tmp_path / "r2").exists()
