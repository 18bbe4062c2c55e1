"""``make_report``: reads the run, draws the figures, writes report.md, tables.tex and the PDF."""
from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gp_opt.errors import GpOptError
from gp_opt.report.run import (ELIMINATION_FILE, HOLDOUT_FILE, REPORT_DIR, TRANSFER_FILE, Entry, ReportError,
                               candidate_genome, candidate_genome_dict, catalog_grammar, complexity, load_run,
                               step_stats, tree_size, unique_ok)
from gp_opt.report.sections import (baseline_update, compile_pdf, elimination_sections, fmt, md_table, record_md,
                                    report_tex, short_expr, tex_note_to_md, transfer_sections)


# ---------------------------------------------------------------- writing
def make_report(run_dir: str | Path, out: str | Path | None = None, top_k: int = 10,
                formats: tuple[str, ...] = ("png",), pdf: bool = True, simplify_seconds: float = 1.0,
                pareto_max: int = 10, simplify_total: float = 8.0, verbose: bool = False,
                prune_top: int = 0) -> ReportResult:
    """Write the report of ``run_dir`` into ``out`` (default ``run_dir/report``), holding the run
    directory's writer lock like every writer (a live search or ``eliminate`` refuses it, naming
    its PID). Nothing is written through a symbolic link: a report folder inside the run reached
    through one, or a link among the files of the report folder, is refused with one line.

    ``simplify_seconds`` bounds sympy's simplify per top-k / Pareto optimizer and
    ``simplify_total`` all of them together (the rest are shown unsimplified).
    ``prune_top``: the first that many of the top-k are first simplified behaviourally
    (:func:`gp_opt.prune.simplify_genome`, about 5-10 s each): their equations, figures and
    ``top{k}-simplified.json`` are the simplified genome's, and the text says so; ``top{k}.json``
    stays the genome as found.
    ``formats``: figure formats (PNG always, plus ``pdf``/``svg`` for papers). ``pdf``: also
    compile ``report.tex`` when ``pdflatex`` is installed. Raises :class:`GpOptError` (one line)
    for a directory that is not a run, is being written, has no successful candidate, or when
    ``out`` cannot be written.
    """
    run_dir = Path(run_dir)
    out_dir = Path(out) if out is not None else run_dir / REPORT_DIR
    with _report_lock(run_dir, out_dir):
        return _write_report(run_dir, out_dir, top_k=top_k, formats=formats, pdf=pdf,
                             simplify_seconds=simplify_seconds, pareto_max=pareto_max,
                             simplify_total=simplify_total, verbose=verbose, prune_top=prune_top)


@contextlib.contextmanager
def _report_lock(run_dir: Path, out_dir: Path):
    """The run's writer lock (when ``run_dir`` holds a run) and the report folder checked for links.

    A received run on a read-only disk cannot be locked: its report may still go elsewhere (``-o``)
    -- then a live writer is only detected, as before (``load_run``)."""
    from gp_opt.rundir import RUN_FILE, check_inside, lock_run

    inside = os.path.abspath(out_dir).startswith(os.path.abspath(run_dir) + os.sep)
    if inside:
        check_inside(os.path.abspath(run_dir), os.path.abspath(out_dir))
    if out_dir.is_dir():
        for entry in os.scandir(out_dir):
            if entry.is_symlink():
                raise ReportError(f"{out_dir / entry.name} is a symbolic link; the report does not write through "
                                  f"links (remove it, or write the report elsewhere with -o)")
    with contextlib.ExitStack() as held:
        if (run_dir / RUN_FILE).is_file():  # not a run: load_run says so, and no .lock is left there
            try:
                held.enter_context(lock_run(run_dir))
            except OSError as exc:
                if inside or exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                    raise
        yield


@dataclass
class ReportResult:
    out_dir: Path
    markdown: Path
    tables: Path
    pdf: Path | None
    pdf_note: str
    figures: list[Path]
    seconds: float
    marks: list = field(default_factory=list)   # (phase, seconds since start) as the report went


def _writable_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ReportError(f"cannot write the report into {out}: {exc.strerror or exc}") from None


def _read_json(path: Path, what: str, notes: list[str]) -> Any:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        notes.append(f"{what} ({path.name}) not read: {exc}")
        return None


#: the figure formats a report writes (PNG always)
FIGURE_FORMATS = ("png", "pdf", "svg")


def lr_figures(doc: Any, out_dir: Path, formats: tuple[str, ...], figures: list) -> list[str]:
    """Per transfer task, the metric against the lr for every optimizer whose curve was kept."""
    from gp_opt import plots as P   # matplotlib only once a report draws
    rows = [r for r in (doc.get("results") or []) if isinstance(r, dict) and isinstance(r.get("lr_curve"), list)] \
        if isinstance(doc, dict) else []
    md = []
    for k, task in enumerate(dict.fromkeys(str(r.get("task")) for r in rows)):
        mine = [r for r in rows if str(r.get("task")) == task]
        ranges = {str(r.get("optimizer")): (r["lr_range"]["low"], r["lr_range"]["high"])
                  for r in mine if isinstance(r.get("lr_range"), dict)}
        fig = P.lr_curves_figure(task, str(mine[0].get("metric", "metric")),
                                 {str(r.get("optimizer")): r["lr_curve"] for r in mine}, ranges,
                                 bool(mine[0].get("higher_is_better", True)))
        figures += P.save(fig, out_dir / f"transfer_lr_{k}", formats)
        md += [f"![{task}: validation metric against the learning rate](transfer_lr_{k}.png)", ""]
    return md


def _objectives_front(run_dir: Path, entries: list, out_dir: Path, formats: tuple[str, ...], figures: list,
                      notes: list[str], grammar: Any = None) -> list[str]:
    """A multi-objective run's Pareto archive (search --objectives, RUN_DIR/pareto.jsonl): its front
    as a table (every point's equation one row away) and fitness against memory as a figure."""
    from gp_opt.search.pareto import ARCHIVE_NAME   # (a module of plain data and DEAP)
    path = run_dir / ARCHIVE_NAME
    if not path.exists():
        return []
    from gp_opt.rundir import JsonLog
    from gp_opt.search.pareto import ParetoArchive, pareto_ranks
    try:   # read only (repair=False): the report changes nothing in the run
        lines = JsonLog(path, ParetoArchive.CHAIN, root=run_dir).read(repair=False)
    except (OSError, GpOptError) as exc:
        notes.append(f"{ARCHIVE_NAME} not read: {exc}")
        return []
    if not lines:
        return []
    from gp_opt import plots as P
    names = list(lines[0]["objectives"])
    front = [x for x, r in zip(lines, pareto_ranks([x["values"] for x in lines], names)) if r == 0]
    by_key = {e.cand.key: e for e in entries}

    def equation(key: str) -> str:
        e = by_key.get(key)
        if e is None:
            return f"key `{key}`"
        genome = e.genome if e.genome is not None else candidate_genome(e.cand, grammar)
        if genome is None:
            return f"key `{key}` (its genome does not load)"
        if e.simplified is None:   # not simplified for the top-k or the size front: as written
            import sympy as sp
            from gp_opt import symbolic as S
            text = sp.sstr(S.to_sympy(genome))
            return f"`{text if len(text) <= 90 else text[:89] + '…'}`"
        return f"`{short_expr(e)}`"

    rows = [[str(x.get("seq"))] + [fmt(v) for v in x["values"]] + [equation(x["key"])] for x in front]
    md = ["## Multi-objective front", "",
          f"From `{ARCHIVE_NAME}` ({len(lines)} archived candidates; objectives {', '.join(names)}): the "
          "candidates no other beats on every objective (fitness up, memory = state buffers per parameter "
          "and size = graph nodes down).", "", md_table(["candidate"] + names + ["U"], rows), ""]
    if "memory" in names:
        i, j = names.index("memory"), names.index("fitness")
        figures += P.save(P.pareto_figure([x["values"][i] for x in lines], [x["values"][j] for x in lines],
                                          [f"c{x.get('seq')}" for x in lines], title="Fitness against memory",
                                          xlabel="state buffers per parameter"), out_dir / "objectives", formats)
        md += ["![fitness against memory](objectives.png)", ""]
    return md


def _write_report(run_dir: str | Path, out: str | Path | None = None, top_k: int = 10,
                  formats: tuple[str, ...] = ("png",), pdf: bool = True, simplify_seconds: float = 1.0,
                  pareto_max: int = 10, simplify_total: float = 8.0, verbose: bool = False,
                  prune_top: int = 0) -> ReportResult:
    """Write the report of ``run_dir`` into ``out`` (default ``run_dir/report``).

    ``simplify_seconds`` bounds sympy's simplify per top-k / Pareto optimizer and
    ``simplify_total`` all of them together (the rest are shown unsimplified).
    ``prune_top``: as in :func:`make_report`.
    ``formats``: figure formats (PNG always, plus ``pdf``/``svg`` for papers). ``pdf``: also
    compile ``report.tex`` when ``pdflatex`` is installed. Raises :class:`GpOptError` (one line)
    for a directory that is not a run, is being written, has no successful candidate, or when
    ``out`` cannot be written.
    """
    from gp_opt import latex as L
    from gp_opt import plots as P
    from gp_opt import symbolic as S

    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    data = load_run(run_dir)
    if top_k < 1:
        raise ReportError(f"--top must be at least 1, got {top_k}")
    n_ok_total = sum(1 for c in data.candidates if c.ok)
    if not data.candidates:
        raise ReportError(f"{run_dir}: candidates.jsonl holds no candidate yet")
    if n_ok_total == 0:
        n_nan = sum(1 for c in data.candidates if c.status == "ok" and math.isnan(c.fitness))
        raise ReportError(f"{run_dir}: no successful candidate among {len(data.candidates)} "
                          f"(every one was rejected or failed{f'; {n_nan} with NaN fitness' if n_nan else ''})")
    formats = tuple(dict.fromkeys(("png",) + tuple(f for f in formats if f != "png")))
    for f in formats:  # before the folder is made: a refused report leaves nothing behind
        if f not in FIGURE_FORMATS:
            raise ReportError(f"unknown figure format {f!r}; use {', '.join(FIGURE_FORMATS)}")
    is_genome = (data.config.get("toolbox") or {}).get("kind", "genome") == "genome"
    grammar = None
    if is_genome:  # the run's own copy of its grammar (never a path run.json names), before any write
        from gp_opt.rundir.carried import run_grammar
        grammar = run_grammar(data.path, data.config.get("toolbox"))
    out_dir = Path(out) if out is not None else run_dir / REPORT_DIR
    _writable_dir(out_dir)

    marks: list[tuple[str, float]] = []

    def say(msg: str) -> None:
        marks.append((msg, time.perf_counter() - t0))
        if verbose:
            print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", flush=True)

    figures: list[Path] = []
    md: list[str] = []
    cfg = data.config
    counters = (data.state or {}).get("counters", {}) or {}
    stats = step_stats(data)
    unique = unique_ok(data)

    # ---- the run
    n = len(data.candidates)
    n_ok = n_ok_total
    n_hits = sum(1 for c in data.candidates if c.cache_hit)
    n_nan = sum(1 for c in data.candidates if c.status == "ok" and math.isnan(c.fitness))
    n_screen = sum(1 for c in data.candidates if c.status == "rejected")
    n_failed = sum(1 for c in data.candidates if c.status == "failed") + n_nan
    particles, steps_, children = cfg.get("particles"), cfg.get("steps"), cfg.get("children")
    budget = None
    if all(isinstance(v, int) for v in (particles, steps_, children)):
        if cfg.get("algorithm") == "regularized":
            budget = int(cfg.get("population_size") or 0) + int(cfg.get("cycles") or steps_) * int(
                cfg.get("children_per_cycle") or particles * children)
        else:
            budget = int(cfg.get("init_factor", 10)) * particles + particles * steps_ * children
    done_step = (data.state or {}).get("step")
    wall = (data.state or {}).get("seconds")
    times = [c.record.get("seconds") for c in data.candidates]
    title = f"Run report: {run_dir.name}"
    md += [f"# {title}", "",
           f"Made by `gp-opt report` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} from "
           f"`{run_dir}` (read only; this folder is the only thing written).", ""]
    for note in data.notes:
        md += [f"> Note: {note}", ""]
    notes_said = len(data.notes)
    md += ["## The run", ""]
    rows = [["task", cfg.get("task")], ["algorithm", cfg.get("algorithm")],
            ["particles N × steps K × children M", f"{particles} × {steps_} × {children}"],
            ["initial population", f"{cfg.get('init_factor')} × N"
             if cfg.get("algorithm") != "regularized" else cfg.get("population_size")],
            ["seed", cfg.get("seed")], ["dedup key", (cfg.get("toolbox") or {}).get("key", "–")],
            ["budget (candidates planned)", budget if budget is not None else "–"],
            ["time steps finished", f"{done_step} of {steps_}" if done_step is not None else
             "none checkpointed yet"],
            ["wall time", f"{wall / 3600:.2f} h ({wall:.0f} s)" if isinstance(wall, (int, float)) else "–"],
            ["evaluation time (sum)", f"{sum(t for t in times if isinstance(t, (int, float))):.0f} s"],
            ["candidates logged", n], ["evaluated", n - n_hits], ["cache hits (same key, not re-run)", n_hits],
            ["successful (finite fitness)", n_ok], ["unique successful optimizers", len(unique)],
            ["rejected by the fitness screen", n_screen], ["failed (NaN/inf, errors)", n_failed],
            ["rejected by the integrity check (redrawn, not logged)",
             counters.get("integrity_rejections", "–")],
            ["duplicates skipped (key already in the particle's history)", counters.get("duplicates", "–")]]
    run_rows = [(str(k), str(v)) for k, v in rows]
    md += [md_table(["item", "value"], rows), ""]

    # ---- progress
    say("progress figures")
    md += ["## Search progress", ""]
    steps = [s.step for s in stats]
    fig = P.progress_figure(steps, [s.best for s in stats], [s.median for s in stats],
                            [s.q25 for s in stats], [s.q75 for s in stats], [s.cum_best for s in stats])
    figures += P.save(fig, out_dir / "progress", formats)
    rates = {"rejected or failed (fitness)": [s.screen_rejected for s in stats],
             "cache hits": [s.cache_hits for s in stats]}
    if any(s.integrity is not None for s in stats):
        rates["refused by the integrity check"] = [s.integrity if s.integrity is not None else math.nan
                                                   for s in stats]
    figures += P.save(P.rates_figure(steps, rates), out_dir / "rates", formats)
    md += ["![fitness per time step](progress.png)", "", "![rejection and cache-hit rates](rates.png)", "",
           md_table(["step", "candidates", "successful", "best", "median", "best so far",
                      "rejected/failed", "cache hits", "integrity refusals"],
                     [[s.step, s.n, s.n_ok, fmt(s.best), fmt(s.median), fmt(s.cum_best),
                       f"{s.screen_rejected:.0%}", f"{s.cache_hits:.0%}",
                       "–" if s.integrity is None else f"{s.integrity:.0%}"] for s in stats]), ""]

    # ---- top-k and the Pareto front
    entries: list[Entry] = []
    if is_genome:
        say(f"size of {len(unique)} unique optimizers")
        for c in unique:
            d = candidate_genome_dict(c)
            if d is None:
                continue
            try:
                gm = grammar or catalog_grammar(d)
                entries.append(Entry(c, tree_size(d, gm)))
            except (GpOptError, TypeError, AttributeError, KeyError) as exc:
                data.notes.append(f"candidate {c.seq}: genome not read ({exc})")
    front_idx: list[int] = []
    if entries:
        cx = np.array([e.size for e in entries])
        fx = np.array([e.cand.fitness for e in entries])
        front_idx = [int(i) for i in np.flatnonzero(P.pareto_front(cx, fx))][:pareto_max]
    # only the top-k and the front are built in sympy, simplified and counted
    chosen = {id(e): e for e in entries[:top_k] + [entries[i] for i in front_idx]}
    for e in list(chosen.values()):
        e.genome = candidate_genome(e.cand, grammar)
        if e.genome is None:
            data.notes.append(f"candidate {e.cand.seq}: its genome does not load; left out")
    top = [e for e in entries if e.genome is not None][:top_k]
    front_idx = [i for i in front_idx if entries[i].genome is not None]
    if chosen:
        say(f"simplifying {len(top)} top and {len(front_idx)} front optimizers")
        budget_end = time.perf_counter() + simplify_total
        for e in chosen.values():
            if e.genome is None:
                continue
            expr = S.to_sympy(e.genome, expand_schedules=False)
            left = min(simplify_seconds, budget_end - time.perf_counter())
            e.simplified = S.simplify(expr, left) if left > 0 else expr
            e.ops = complexity(e.simplified)
    pruned: dict[int, Any] = {}
    if is_genome and prune_top:
        from gp_opt.prune import simplify_genome
        for e in top[:prune_top]:
            say(f"behavioural simplification of candidate {e.cand.seq}")
            try:
                result = simplify_genome(e.genome, seconds=0)
            except GpOptError as exc:
                data.notes.append(f"candidate {e.cand.seq}: not simplified behaviourally ({exc})")
                continue
            pruned[id(e)] = (e.genome, result)
            if result.edits:
                e.genome = result.genome
                expr = S.to_sympy(e.genome, expand_schedules=False)
                e.simplified = S.simplify(expr, simplify_seconds) if simplify_seconds > 0 else expr
                e.ops = complexity(e.simplified)
    rank = {id(e): k + 1 for k, e in enumerate(top)}

    md += [f"## The top {len(top) if is_genome else min(top_k, len(unique))} "
           f"{'optimizers' if is_genome else 'candidates'}", ""]
    if is_genome:
        md += ["Unique by the run's dedup key, best fitness first. Equations in the paper's form: labelled "
               "operands kept, each decay function a symbol $d_k$, schedules $a_k$ (definitions under "
               "*Symbols* below); the sign the integrity check chose is included in $U$; the step is "
               "$w \\leftarrow w - \\eta_t U$ (with the momentum type's form), $\\eta_t$ the base one-cycle rate.", ""]
    used: set = set()
    grammars: list = []
    if not is_genome:
        md += [md_table(["rank", "fitness", "key", "payload"],
                         [[k + 1, fmt(c.fitness), f"`{c.key}`", f"`{c.individual}`"]
                          for k, c in enumerate(unique[:top_k])]), ""]
    for k, e in enumerate(top, 1):
        say(f"top {k}")
        g, c = e.genome, e.cand
        if all(g.grammar is not x for x in grammars):
            grammars.append(g.grammar)
        from gp_opt.catalog import carry_grammar  # a custom grammar travels inside the file
        found, result = pruned.get(id(e), (g, None))
        (out_dir / f"top{k}.json").write_text(carry_grammar(found).to_json(indent=2) + "\n")
        eq = L.equation_latex(g, max_width=70, schedule=True)
        used |= eq.used
        md += [f"### #{k}: fitness {fmt(c.fitness, 5)} (candidate {c.seq}, step {c.step})", "",
               f"momentum **{g.momentum}**, sign **{'+1' if g.sign > 0 else '−1 (flipped)'}**, "
               f"size {fmt(e.size)} ops as written, {fmt(e.ops)} after simplification (sympy "
               f"`count_ops`), key `{c.key}`, genome [`top{k}.json`](top{k}.json)", "",
               f"$$U = {eq.update}$$", ""]
        if result is not None and result.edits:
            (out_dir / f"top{k}-simplified.json").write_text(carry_grammar(g).to_json(indent=2) + "\n")
            md[-2:-2] = [f"Simplified behaviourally (`gp-opt simplify`; the genome as found is "
                         f"[`top{k}.json`](top{k}.json), this one [`top{k}-simplified.json`](top{k}-simplified.json)): "
                         f"{result.summary()}; removed: " + "; ".join(result.edits), ""]
        elif result is not None:
            md[-2:-2] = [f"Behavioural simplification removed nothing: every node changes the behaviour "
                         f"(tolerance {result.tol:g}).", ""]
        for sym, part in eq.where:
            md += [f"$$\\text{{where }} {sym} = {part}$$", ""]
        compact = S.compact_text(g)  # composite ops (clip, sigmoid, ...) kept by name: one line
        if len(compact) < len(S.text_expr(S.equation(g)[0], g.grammar)):
            md += [f"In the grammar's ops (`gp_opt.symbolic.compact_text`): `U = {compact}`", ""]
        if eq.decays:
            md += ["Decay functions:", ""] + [f"$${sym} = {d}$$" for sym, d in eq.decays] + [""]
        else:
            md += ["No decay functions.", ""]
        if eq.schedule is not None:
            md += ["Factored learning-rate schedule (the rate is $\\eta_t\\, s(t)$ and the update "
                   "what remains):", "", f"$$s(t) = {eq.schedule}, \\qquad U / s(t) = {eq.scheduled_update}$$", ""]
        else:
            md += ["Factored learning-rate schedule: none ($s(t) = 1$).", ""]
        if e.simplified is not None:
            simp = L.expr_latex(e.simplified, g.grammar)
            md += [f"Simplified (sympy, at most {simplify_seconds:g} s; operands written out, schedules "
                   "kept as $a_k$):", "",
                   f"$$U = {simp}$$", ""] if len(simp) < 1500 else []
        from gp_opt.card import card, card_lines  # what it costs to run (issue 23)
        md += ["Cost: " + "; ".join(card_lines(card(g))) + ".", ""]
        md += record_md(c.record)
        x = np.linspace(-3, 3, 241)
        figs = [
            (P.schedule_figure(P.schedule_curves(g, name=f"#{k}")), f"top{k}_schedule", "learning-rate schedule"),
            (P.decays_figure(f"#{k}", P.decay_curves(g)), f"top{k}_decays", "decay functions"),
            (P.update_figure(x, {f"#{k}": P.update_curves(g, x), "Adam": baseline_update("Adam", x),
                                 "SGD": baseline_update("SGD", x)}), f"top{k}_update", "U as a function of g"),
            (P.graph_figure(g, f"#{k}"), f"top{k}_graph", "the update graph"),
        ]
        for fig, stem, alt in figs:
            figures += P.save(fig, out_dir / stem, formats)
        md += [f"![{alt}]({stem}.png)" for _, stem, alt in figs] + [""]

    if entries:
        say("pareto figure")
        md += ["## Complexity: the Pareto front", "",
               "Fitness against the size of each unique optimizer's equation: the ops of the expression "
               "tree its graph writes (operands, ops and decay functions each counted by sympy "
               "`count_ops` of their grammar expression; computed for every candidate without sympy). "
               "The front holds the optimizers no other beats on both: the simplest good optimizer is the "
               "one to publish. Its members are simplified (table: `count_ops` after simplification).", ""]
        labels = [f"#{rank[id(e)]}" if id(e) in rank else f"c{e.cand.seq}" for e in entries]
        figures += P.save(P.pareto_figure([e.size for e in entries], [e.cand.fitness for e in entries],
                                          labels, xlabel="size of U (ops of the expression tree as written)"),
                          out_dir / "pareto", formats)
        rows = []
        for i in sorted(front_idx, key=lambda i: entries[i].size):
            e = entries[i]
            rows.append([labels[i], fmt(e.size), fmt(e.ops), fmt(e.cand.fitness, 5), e.genome.momentum,
                         f"`{short_expr(e)}`"])
        md += ["![fitness against complexity](pareto.png)", "",
               md_table(["optimizer", "size", "ops simplified", "fitness", "momentum", "U (simplified)"], rows), ""]

    md += _objectives_front(run_dir, entries, out_dir, formats, figures, data.notes, grammar)

    # ---- elimination and transfer
    tables_tex: list[str] = []
    if top:
        simplified = [f"#{k}" for k, e in enumerate(top, 1) if id(e) in pruned and pruned[id(e)][1].edits]
        said = (f" {', '.join(simplified)} simplified behaviourally (gp-opt simplify: nodes that do not change "
                f"the behaviour removed; the report says what)." if simplified else "")
        tables_tex.append(L.latex_table([(f"#{k}", e.genome) for k, e in enumerate(top, 1)],
                                        caption=f"The top {len(top)} optimizers of run "
                                                f"{L.tex_escape(run_dir.name)} (Table 8 form).{said}",
                                        label="tab:top"))
    elim = _read_json(run_dir / ELIMINATION_FILE, "elimination results", data.notes)
    if elim is not None:
        held = _read_json(run_dir / HOLDOUT_FILE, "hold-out results", data.notes)
        text, tex = elimination_sections(elim, data.notes, held)
        md += text
        tables_tex += tex
    trans = _read_json(run_dir / TRANSFER_FILE, "transfer results", data.notes)
    if trans is not None:
        say("transfer tables")
        text, tex = transfer_sections(trans, data.notes)
        md += text
        tables_tex += tex
        say("transfer lr-curve figures")   # a phase of its own: benchmarks/report_speed.py times it
        md += lr_figures(trans, out_dir, formats, figures)

    # ---- symbols, files
    if used and grammars:
        md += ["## Symbols", ""] + [f"- {tex_note_to_md(s)}" for s in L.notes(used, grammars)] + [
            "- $\\eta_t$: the base one-cycle learning rate (linear warm-up, hold, cosine decay); "
            "$\\mu_t$: the one-cycle momentum", ""]
    tables_path = out_dir / "tables.tex"
    tables_path.write_text("% tables of gp-opt report " + str(run_dir) + "\n" + "\n".join(tables_tex)
                           if tables_tex else "% gp-opt report: no genome results to tabulate\n")
    say("report.tex")
    tex_path = out_dir / "report.tex"
    tex_path.write_text(report_tex(title, rows_summary=run_rows, tables=tables_tex,
                                    top=top, figures_top=len(top)))
    pdf_path, pdf_note = None, ""
    if not pdf:
        pdf_note = "PDF not requested (--no-pdf)."
    elif shutil.which("pdflatex") is None:
        pdf_note = "report.pdf skipped: no pdflatex on PATH (install a LaTeX engine to get it)."
    else:
        say("pdflatex")
        pdf_path, pdf_note = compile_pdf(tex_path)
    md += ["## Files", "",
           "- `tables.tex`: the LaTeX tables (preamble packages in its comments: "
           + ", ".join(L.TABLE_PACKAGES) + ")",
           "- `report.tex`: the whole report as a LaTeX document",
           f"- {'`report.pdf`: compiled with pdflatex' if pdf_path else pdf_note}",
           "- `top<k>.json`: the genomes (`gp-opt show`, `gp-opt export`, `gp-opt plot`)", ""]
    for note in data.notes[notes_said:]:
        md += [f"> Note: {note}", ""]
    md_path = out_dir / "report.md"
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    say("done")
    return ReportResult(out_dir, md_path, tables_path, pdf_path, pdf_note, figures, time.perf_counter() - t0, marks)
