"""``gp-opt report RUN_DIR``: what a run found, as Markdown, PNG figures, LaTeX tables and a PDF.

The run directory is only read (through :class:`gp_opt.rundir.RunDir`, never repairing its log);
everything is written into ``RUN_DIR/report/`` (or ``out``):

- ``report.md`` -- renders as is on a code-hosting site: ``$$...$$`` equations, PNG figures beside
  it, Markdown tables. Sections: the run, search progress, the top-k optimizers, complexity
  (Pareto front), elimination and transfer results when the run directory holds them.
- ``tables.tex`` -- the Table-8-form table of the top-k (:func:`gp_opt.latex.latex_table`) and
  mean ± std results tables (elimination, transfer) when there are any.
- ``report.tex`` / ``report.pdf`` -- a standalone document of the same (the PDF when ``pdflatex``
  is installed; otherwise the report says it skipped it).
- ``top<k>.json`` -- the genome of each top-k optimizer (``gp-opt show report/top1.json``).
- Figures: ``progress.png``, ``rates.png``, ``pareto.png``, and per optimizer
  ``top<k>_schedule.png``, ``top<k>_decays.png``, ``top<k>_update.png``, ``top<k>_graph.png``.

Results the later stages write into the run directory, read when present (formats in
docs/report.md): :data:`ELIMINATION_FILE` and :data:`TRANSFER_FILE`.

The sympy work is bounded: every successful unique genome costs one ``count_ops`` of its
automatically canonical ``U`` (milliseconds), and only the top-k and the Pareto front are
simplified, each within ``simplify_seconds``.
"""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gp_opt.errors import GpOptError

__all__ = ["make_report", "load_run", "RunData", "ReportResult", "ELIMINATION_FILE", "TRANSFER_FILE", "HOLDOUT_FILE",
           "REPORT_DIR"]

REPORT_DIR = "report"
#: Written by ``gp-opt eliminate`` (the elimination funnel), read when present.
ELIMINATION_FILE = "elimination/summary.json"
#: Written by ``gp-opt transfer`` into a run directory, read when present.
TRANSFER_FILE = "transfer/results.json"
#: ``gp-opt eliminate --holdout N``'s summary: the last round's entries on fresh seeds
HOLDOUT_FILE = "elimination/holdout.json"


class ReportError(GpOptError):
    """A run directory the report cannot be made from (no run, no successful candidate, ...)."""


# ---------------------------------------------------------------- reading the run
@dataclass
class Candidate:
    seq: int
    step: int
    key: str
    fitness: float          # NaN when the record says NaN; -inf when rejected/failed
    status: str
    cache_hit: bool
    individual: Any         # the serialized payload (a genome's JSON text)
    record: dict

    @property
    def ok(self) -> bool:
        return self.status == "ok" and math.isfinite(self.fitness)


@dataclass
class RunData:
    """What the report reads from a run directory."""

    path: Path
    config: dict
    candidates: list[Candidate]
    state: dict | None               # the checkpoint's state (None: killed before the first)
    notes: list[str] = field(default_factory=list)   # problems met while reading, said in the report


def _float(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def load_run(path: str | Path) -> RunData:
    """Read a run directory without changing it. Raises :class:`GpOptError` subclasses with one
    line naming the problem (not a run, a live writer, no or a corrupt ``candidates.jsonl``)."""
    from gp_opt import rundir as rundir_mod
    from gp_opt.errors import CheckpointError

    path = Path(path)
    if not path.is_dir():
        raise ReportError(f"{path} is not a run directory (it does not exist)")
    rundir_mod.check_not_written(path, "report")   # a live search: refuse, it is half written
    # lock=False: a reader takes no lock and removes nothing; repair=False: a cut last line is
    # left where it is (the next writer moves it away)
    rd = rundir_mod.RunDir.open(path, lock=False)
    notes = []
    try:
        log = path / rundir_mod.CANDIDATES_FILE
        if not log.exists():
            raise ReportError(f"{path}: no {rundir_mod.CANDIDATES_FILE} (the run logged no candidate yet)")
        lines = rd.read_candidates(repair=False)
        if rd.torn:
            notes.append(f"the last line of {rundir_mod.CANDIDATES_FILE} is cut (a killed write); left out")
        try:
            state = rd.load_checkpoint()
        except CheckpointError as exc:       # the log alone still makes a report
            state = None
            notes.append(f"checkpoint not used: {exc}")
    finally:
        rd.close()
    cands = []
    for line in lines:
        rec = line.get("record") if isinstance(line.get("record"), dict) else {}
        phase_step = 0 if line.get("phase") == "init" else int(line.get("step") or 0)
        cands.append(Candidate(seq=int(line["seq"]), step=phase_step, key=str(line.get("key")),
                               fitness=_float(rec.get("fitness")), status=str(rec.get("status", "failed")),
                               cache_hit=bool(line.get("cache_hit")), individual=line.get("individual"),
                               record=rec))
    return RunData(path, rd.config, cands, state, notes)


# ---------------------------------------------------------------- analysis
@dataclass
class StepStats:
    step: int
    n: int
    n_ok: int
    best: float
    median: float
    q25: float
    q75: float
    cum_best: float
    screen_rejected: float     # fraction of the step's candidates rejected/failed by the fitness
    cache_hits: float          # fraction taken from the cache
    integrity: float | None    # fraction of drawn children refused by the integrity check


def step_stats(data: RunData) -> list[StepStats]:
    by_step: dict[int, list[Candidate]] = {}
    for c in data.candidates:
        by_step.setdefault(c.step, []).append(c)
    integrity = {}
    for row in (data.state or {}).get("logbook", []) or []:
        try:
            integrity[int(row["step"])] = float(row.get("integrity", 0))
        except (KeyError, TypeError, ValueError):
            continue
    out, cum = [], -math.inf
    for step in sorted(by_step):
        cs = by_step[step]
        fit = np.array([c.fitness for c in cs if c.ok])
        nan = math.nan
        if fit.size:
            best, med, q25, q75 = float(fit.max()), float(np.median(fit)), *map(float, np.percentile(fit, [25, 75]))
            cum = max(cum, best)
        else:
            best = med = q25 = q75 = nan
        integ = None
        if step in integrity:
            drawn = integrity[step] + len(cs)
            integ = integrity[step] / drawn if drawn else None
        out.append(StepStats(step, len(cs), int(fit.size), best, med, q25, q75,
                             cum if math.isfinite(cum) else nan,
                             sum(1 for c in cs if c.status != "ok" or not math.isfinite(c.fitness)) / len(cs),
                             sum(1 for c in cs if c.cache_hit) / len(cs), integ))
    return out


def _genome_dict(c: Candidate) -> dict | None:
    text = c.individual
    if not isinstance(text, str) or not text.lstrip().startswith("{"):
        return None
    try:
        d = json.loads(text)
    except ValueError:
        return None
    return d if isinstance(d, dict) else None


def _catalog_grammar(d: dict):
    from gp_opt import catalog
    return catalog.grammar_for(d)


def _genome(c: Candidate, grammar=None):
    from gp_opt.genome import OptimizerGenome
    text = c.individual
    if not isinstance(text, str) or not text.lstrip().startswith("{"):
        return None
    try:
        return OptimizerGenome.from_json(text, grammar)
    except (GpOptError, ValueError, KeyError, TypeError):
        return None


@dataclass
class Entry:
    """One unique successful optimizer of the run."""

    cand: Candidate
    size: float                 # ops in the expression tree the graph writes (all entries)
    genome: Any = None          # parsed only for the top-k and the Pareto front
    ops: float = math.nan       # sympy count_ops of the simplified U (top-k and front only)
    simplified: Any = None


_WEIGHTS: dict[int, tuple[Any, dict, dict]] = {}


def _weights(grammar) -> tuple[dict, dict]:
    """(ops per operand, ops per op) of a grammar: sympy ``count_ops`` of each one's expression
    (an op costs at least 1, the identity 0)."""
    import sympy as sp
    hit = _WEIGHTS.get(id(grammar))
    if hit is None or hit[0] is not grammar:
        operands = {n: int(sp.count_ops(o.expr)) for n, o in grammar.operands.items()}
        x = sp.Symbol("x")
        ops = {n: (0 if o.expr == x else max(1, int(sp.count_ops(o.expr)))) for n, o in grammar.ops.items()}
        hit = _WEIGHTS[id(grammar)] = (grammar, operands, ops)
    return hit[1], hit[2]


def tree_size(data: dict, grammar) -> float:
    """The size of ``U`` as the genome writes it: the ops of the expression tree its active graph
    unfolds to (an operand counts its own ops, a node its op's, a decayed edge 1 for the product
    plus its decay function's ops), without building it in sympy. Close to ``count_ops`` of the
    unsimplified ``U``; microseconds instead of tens of milliseconds, so every candidate of a
    large run gets one.

    >>> from gp_opt import catalog
    >>> tree_size(catalog.get("Adam").to_dict(), catalog.get("Adam").grammar)  # div 3, sqrt_abs 2
    5.0
    """
    operand_ops, op_ops = _weights(grammar)
    nodes = data.get("nodes", {})
    memo: dict[str, float] = {}

    def decay_size(dec: dict) -> float:
        dnodes = dec.get("nodes", {}) if isinstance(dec, dict) else {}
        dmemo: dict[str, float] = {}

        def node(name: str) -> float:
            if name not in dnodes:
                return 0.0            # a schedule leaf
            if name not in dmemo:
                spec = dnodes[name]
                dmemo[name] = op_ops.get(spec.get("op"), 1) + sum(node(i) for i in spec.get("inputs", []))
            return dmemo[name]
        return node("out")

    def node(name: str) -> float:
        if name not in nodes:
            return float(operand_ops.get(name, 0))
        if name not in memo:
            spec = nodes[name]
            total = float(op_ops.get(spec.get("op"), 1))
            for inp in spec.get("inputs", []):
                if isinstance(inp, dict):
                    total += node(str(inp.get("from")))
                    if inp.get("decay"):
                        total += 1 + decay_size(inp["decay"])
                else:
                    total += node(str(inp))
            memo[name] = total
        return memo[name]
    return node("out") + (1 if data.get("sign", 1) < 0 else 0)


def _unique_ok(data: RunData) -> list[Candidate]:
    """Successful candidates, best first, one per dedup key (its best record)."""
    ok = sorted((c for c in data.candidates if c.ok), key=lambda c: (-c.fitness, c.seq))
    seen, out = set(), []
    for c in ok:
        if c.key in seen:
            continue
        seen.add(c.key)
        out.append(c)
    return out


def _complexity(expr) -> float:
    import sympy as sp
    try:
        return float(sp.count_ops(expr))
    except Exception:  # noqa: BLE001 - an expression sympy cannot count is simply "unknown"
        return math.nan


# ---------------------------------------------------------------- writing
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


def _fmt(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "−∞" if x < 0 else "∞"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def _md_table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v):
        return str(v).replace("|", "\\|").replace("\n", " ")
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


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


def make_report(run_dir: str | Path, out: str | Path | None = None, top_k: int = 10,
                formats: tuple[str, ...] = ("png",), pdf: bool = True, simplify_seconds: float = 1.0,
                pareto_max: int = 10, simplify_total: float = 8.0, verbose: bool = False) -> ReportResult:
    """Write the report of ``run_dir`` into ``out`` (default ``run_dir/report``).

    ``simplify_seconds`` bounds sympy's simplify per top-k / Pareto optimizer and
    ``simplify_total`` all of them together (the rest are shown unsimplified).
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
    out_dir = Path(out) if out is not None else run_dir / REPORT_DIR
    _writable_dir(out_dir)
    formats = tuple(dict.fromkeys(("png",) + tuple(f for f in formats if f != "png")))
    for f in formats:
        if f not in ("png", "pdf", "svg"):
            raise ReportError(f"unknown figure format {f!r}; use png, pdf or svg")

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
    unique = _unique_ok(data)
    is_genome = (cfg.get("toolbox") or {}).get("kind", "genome") == "genome"

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
    md += [_md_table(["item", "value"], rows), ""]

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
    md += ["![fitness per time step](progress.png)", "", "![rejection and duplicate rates](rates.png)", "",
           _md_table(["step", "candidates", "successful", "best", "median", "best so far",
                      "rejected/failed", "cache hits", "integrity refusals"],
                     [[s.step, s.n, s.n_ok, _fmt(s.best), _fmt(s.median), _fmt(s.cum_best),
                       f"{s.screen_rejected:.0%}", f"{s.cache_hits:.0%}",
                       "–" if s.integrity is None else f"{s.integrity:.0%}"] for s in stats]), ""]

    # ---- top-k and the Pareto front
    entries: list[Entry] = []
    grammar = None
    if cfg.get("grammar") or (cfg.get("toolbox") or {}).get("grammar"):
        try:
            from gp_opt import grammar as grammar_mod
            grammar = grammar_mod.load((cfg.get("toolbox") or {}).get("grammar") or cfg.get("grammar"))
        except GpOptError as exc:
            data.notes.append(f"grammar not loaded ({exc}); genomes read with the one each names")
    if is_genome:
        say(f"size of {len(unique)} unique optimizers")
        for c in unique:
            d = _genome_dict(c)
            if d is None:
                continue
            try:
                gm = grammar or _catalog_grammar(d)
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
        e.genome = _genome(e.cand, grammar)
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
            e.ops = _complexity(e.simplified)
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
        md += [_md_table(["rank", "fitness", "key", "payload"],
                         [[k + 1, _fmt(c.fitness), f"`{c.key}`", f"`{c.individual}`"]
                          for k, c in enumerate(unique[:top_k])]), ""]
    for k, e in enumerate(top, 1):
        say(f"top {k}")
        g, c = e.genome, e.cand
        if all(g.grammar is not x for x in grammars):
            grammars.append(g.grammar)
        (out_dir / f"top{k}.json").write_text(g.to_json(indent=2) + "\n")
        eq = L.equation_latex(g, max_width=70, schedule=True)
        used |= eq.used
        md += [f"### #{k}: fitness {_fmt(c.fitness, 5)} (candidate {c.seq}, step {c.step})", "",
               f"momentum **{g.momentum}**, sign **{'+1' if g.sign > 0 else '−1 (flipped)'}**, "
               f"size {_fmt(e.size)} ops as written, {_fmt(e.ops)} after simplification (sympy "
               f"`count_ops`), key `{c.key}`, genome [`top{k}.json`](top{k}.json)", "",
               f"$$U = {eq.update}$$", ""]
        for sym, part in eq.where:
            md += [f"$$\\text{{where }} {sym} = {part}$$", ""]
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
        md += _record_md(c.record)
        x = np.linspace(-3, 3, 241)
        figs = [
            (P.schedule_figure(P.schedule_curves(g, name=f"#{k}")), f"top{k}_schedule", "learning-rate schedule"),
            (P.decays_figure(f"#{k}", P.decay_curves(g)), f"top{k}_decays", "decay functions"),
            (P.update_figure(x, {f"#{k}": P.update_curves(g, x), "Adam": _baseline_update("Adam", x),
                                 "SGD": _baseline_update("SGD", x)}), f"top{k}_update", "U as a function of g"),
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
            rows.append([labels[i], _fmt(e.size), _fmt(e.ops), _fmt(e.cand.fitness, 5), e.genome.momentum,
                         f"`{_short_expr(e)}`"])
        md += ["![fitness against complexity](pareto.png)", "",
               _md_table(["optimizer", "size", "ops simplified", "fitness", "momentum", "U (simplified)"], rows), ""]

    # ---- elimination and transfer
    tables_tex: list[str] = []
    if top:
        tables_tex.append(L.latex_table([(f"#{k}", e.genome) for k, e in enumerate(top, 1)],
                                        caption=f"The top {len(top)} optimizers of run "
                                                f"{L.tex_escape(run_dir.name)} (Table 8 form).",
                                        label="tab:top"))
    elim = _read_json(run_dir / ELIMINATION_FILE, "elimination results", data.notes)
    if elim is not None:
        held = _read_json(run_dir / HOLDOUT_FILE, "hold-out results", data.notes)
        text, tex = _elimination_sections(elim, data.notes, held)
        md += text
        tables_tex += tex
    trans = _read_json(run_dir / TRANSFER_FILE, "transfer results", data.notes)
    if trans is not None:
        text, tex = _transfer_sections(trans, data.notes)
        md += text
        tables_tex += tex

    # ---- symbols, files
    if used and grammars:
        md += ["## Symbols", ""] + [f"- {_tex_note_to_md(s)}" for s in L.notes(used, grammars)] + [
            "- $\\eta_t$: the base one-cycle learning rate (linear warm-up, hold, cosine decay); "
            "$\\mu_t$: the one-cycle momentum", ""]
    tables_path = out_dir / "tables.tex"
    tables_path.write_text("% tables of gp-opt report " + str(run_dir) + "\n" + "\n".join(tables_tex)
                           if tables_tex else "% gp-opt report: no genome results to tabulate\n")
    say("report.tex")
    tex_path = out_dir / "report.tex"
    tex_path.write_text(_report_tex(title, rows_summary=run_rows, tables=tables_tex,
                                    top=top, figures_top=len(top)))
    pdf_path, pdf_note = None, ""
    if not pdf:
        pdf_note = "PDF not requested (--no-pdf)."
    elif shutil.which("pdflatex") is None:
        pdf_note = "report.pdf skipped: no pdflatex on PATH (install a LaTeX engine to get it)."
    else:
        say("pdflatex")
        pdf_path, pdf_note = _compile(tex_path)
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


_BASE_UPDATES: dict[str, Any] = {}


def _baseline_update(name: str, x: np.ndarray):
    from gp_opt import catalog
    from gp_opt import plots as P
    key = (name, len(x), float(x[0]), float(x[-1]))
    if key not in _BASE_UPDATES:
        _BASE_UPDATES[key] = P.update_curves(catalog.get(name), x)
    return _BASE_UPDATES[key]


def _short_expr(e: Entry, n: int = 90) -> str:
    import sympy as sp
    text = sp.sstr(e.simplified if e.simplified is not None else "")
    return text if len(text) <= n else text[: n - 1] + "…"


def _record_md(rec: dict) -> list[str]:
    out = [f"Fitness record: status **{rec.get('status')}**, fitness {_fmt(_float(rec.get('fitness')), 5)}, "
           f"best learning rate {rec.get('best_lr')}, {_fmt(_float(rec.get('seconds')), 3)} s"
           + (f", reason: {rec.get('reason')}" if rec.get("reason") else ""), ""]
    stages = rec.get("stages") or []
    if stages:
        keys = [k for k in ("lr", "status", "score", "final_loss", "steps_run", "seconds", "reason")
                if any(k in s for s in stages)]
        out += [_md_table(keys, [[_fmt(_float(s.get(k))) if k in ("score", "final_loss", "seconds")
                                  else s.get(k, "") for k in keys] for s in stages]), ""]
    return out


def _tex_note_to_md(note: str) -> str:
    """A LaTeX note sentence as Markdown math ($...$ stays; a few text macros go)."""
    return note.replace(r"\_", "_")


def _scores(entry: dict) -> list[float]:
    vals = entry.get("scores")
    if vals is None and "mean" in entry:
        vals = [entry["mean"]]
    return [float(v) for v in (vals or []) if isinstance(v, (int, float)) or _isnum(v)]


def _isnum(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def _mean_std(vals: list[float]) -> str:
    vals = [v for v in vals if math.isfinite(v)]
    if not vals:
        return "failed"
    if len(vals) == 1:
        return f"{vals[0]:.4f}"
    return f"{np.mean(vals):.4f} ± {np.std(vals, ddof=1):.4f}"


def _elimination_sections(doc: Any, notes: list[str], held: Any = None) -> tuple[list[str], list[str]]:
    """The rounds' tables; with ``held`` (``holdout.json``) its table and a last LaTeX column."""
    from gp_opt import latex as L
    rounds = doc.get("rounds") if isinstance(doc, dict) else None
    if not isinstance(rounds, list):
        notes.append(f"{ELIMINATION_FILE}: no 'rounds' list; elimination results left out")
        return [], []
    md = ["## Elimination", "", f"From `{ELIMINATION_FILE}`: each round re-trains the candidates (and the "
          "baselines, on the same seeds) at a larger cost and keeps the best by mean score.", ""]
    names: dict[str, list] = {}
    columns = []
    steps: set = set()
    for j, rnd in enumerate(rounds):
        if not isinstance(rnd, dict):
            continue
        label = rnd.get("name") or f"round {j + 1}"
        desc = ", ".join(f"{k} {rnd[k]}" for k in ("base", "steps") if k in rnd)
        seeds = rnd.get("seeds")
        # the LaTeX column says the base only (the steps go to the caption): the table must fit a page
        columns.append(label + (f" (base {rnd['base']})" if "base" in rnd else ""))
        steps.add(rnd.get("steps"))
        rows = []
        entries = [e for e in rnd.get("entries", []) if isinstance(e, dict)]
        entries.sort(key=lambda e: -np.mean(_scores(e) or [-math.inf]))
        for e in entries:
            name = str(e.get("name", e.get("key", "?")))
            sc = _scores(e)
            rows.append([name, e.get("kind", "candidate"), _mean_std(sc), len(sc),
                         "yes" if e.get("advanced") else ("–" if e.get("advanced") is None else "no")])
            names.setdefault(name, [None] * len(rounds))[j] = sc or None
        md += [f"### {label}" + (f" ({desc}, seeds {seeds})" if desc or seeds else ""), "",
               _md_table(["optimizer", "kind", "mean ± std", "seeds", "advanced"], rows), ""]
    budget = f" ({steps.pop()} steps each)" if len(steps) == 1 and None not in steps else ""
    caption = f"Elimination rounds{budget}: mean $\\pm$ std over seeds."
    if isinstance(held, dict) and isinstance(held.get("entries"), list) and held.get("seeds"):
        from gp_opt.holdout import format_holdout
        try:
            md += [format_holdout(held).replace("### hold-out", "### Hold-out", 1), ""]
        except (KeyError, TypeError, ValueError) as exc:
            notes.append(f"{HOLDOUT_FILE}: not read ({exc!r}); hold-out results left out")
        else:
            seeds = held["seeds"]
            columns.append(f"seeds {seeds[0]}-{seeds[-1]}")
            for row in names.values():
                row.append(None)
            for e in held["entries"]:
                if isinstance(e, dict) and e.get("ok"):
                    names.setdefault(str(e["name"]), [None] * len(columns))[-1] = e["val_acc"]
            caption = (f"Elimination rounds{budget}, then the last round's entries on fresh seeds: mean "
                       "$\\pm$ std over seeds.")
    tex = [L.results_table(columns, list(names.items()), caption=caption, label="tab:elimination")] if names else []
    return md, tex


def _higher_by_task(doc: dict, tasks: list[str]) -> list[bool]:
    """Whether a larger score is better, task by task (bits per character is not): the file's
    ``higher_is_better_by_task``, else each result row's own flag, else the file-wide one."""
    default = bool(doc.get("higher_is_better", True))
    by_task = doc.get("higher_is_better_by_task")
    by_task = dict(by_task) if isinstance(by_task, dict) else {}
    for r in doc.get("results") or ():
        if isinstance(r, dict) and "higher_is_better" in r:
            by_task.setdefault(str(r.get("task")), r["higher_is_better"])
    return [bool(by_task.get(t, default)) for t in tasks]


def _transfer_sections(doc: Any, notes: list[str]) -> tuple[list[str], list[str]]:
    from gp_opt import latex as L
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, list):
        notes.append(f"{TRANSFER_FILE}: no 'results' list; transfer results left out")
        return [], []
    tasks = list(doc.get("tasks") or dict.fromkeys(str(r.get("task")) for r in results if isinstance(r, dict)))
    metric = doc.get("metric", "score")
    table: dict[str, dict[str, dict]] = {}
    for r in results:
        if isinstance(r, dict):
            table.setdefault(str(r.get("optimizer", "?")), {})[str(r.get("task"))] = r
    md = ["## Transfer", "", f"From `{TRANSFER_FILE}`: {metric} on held-out tasks, mean ± std over seeds at "
          "each optimizer's best learning rate (the same grid and budget for every optimizer).", ""]
    rows = []
    for name, per_task in table.items():
        row = [name]
        for t in tasks:
            r = per_task.get(t)
            if r is None:
                row.append("–")
                continue
            cell = _mean_std(_scores(r)) if r.get("status", "ok") == "ok" else "failed"
            if r.get("vs_adam"):
                cell += f" ({r['vs_adam']})"
            row.append(cell)
        rows.append(row)
    md += [_md_table(["optimizer"] + tasks, rows), ""]
    tex = [L.results_table(tasks, [(name, [(_scores(per_task[t]) or None) if t in per_task else None
                                           for t in tasks]) for name, per_task in table.items()],
                           caption=f"Transfer: {L.tex_escape(metric)}, mean $\\pm$ std over seeds.",
                           label="tab:transfer", higher_is_better=_higher_by_task(doc, tasks))]
    return md, tex


def _report_tex(title: str, rows_summary: list[tuple[str, str]], tables: list[str], top: list, figures_top: int) -> str:
    from gp_opt import latex as L
    body = [r"\subsection*{The run}", r"\begin{tabular}{@{}ll@{}}", r"\toprule"]
    body += [f"{L.tex_escape(k)} & {L.tex_escape(v)} \\\\" for k, v in rows_summary]
    body += [r"\bottomrule", r"\end{tabular}", "",
             r"\subsection*{Search progress}",
             r"\begin{center}\includegraphics[width=0.48\linewidth]{progress.png}\hfill"
             r"\includegraphics[width=0.48\linewidth]{rates.png}\end{center}"]
    if top:
        body += [r"\begin{center}\includegraphics[width=0.6\linewidth]{pareto.png}\end{center}",
                 r"\subsection*{Tables}"] + tables + [r"\clearpage", r"\subsection*{The top optimizers}"]
        used, grammars = set(), []
        for k, e in enumerate(top, 1):
            block, u = L.equation_block(f"#{k} (fitness {e.cand.fitness:.5g})", e.genome)
            used |= u
            if all(e.genome.grammar is not g for g in grammars):
                grammars.append(e.genome.grammar)
            body += [block, r"\begin{center}"
                     + "".join(r"\includegraphics[width=0.32\linewidth]{top%d_%s.png}" % (k, s)
                               for s in ("schedule", "decays", "update")) + r"\end{center}"]
        body.append(r"{\footnotesize %s\par}" % L.notes_paragraph(used, grammars))
    else:
        body += tables
    return L.standalone("\n".join(body), title=title)


def _compile(tex_path: Path) -> tuple[Path | None, str]:
    """pdflatex in the report folder; (the PDF, "") or (None, why not)."""
    try:
        proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex_path.name],
                              cwd=tex_path.parent, capture_output=True, text=True, timeout=180)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"report.pdf not made: pdflatex did not finish ({exc})"
    pdf = tex_path.with_suffix(".pdf")
    for ext in (".aux", ".out"):
        try:
            tex_path.with_suffix(ext).unlink()
        except OSError:
            pass
    if proc.returncode != 0 or not pdf.exists():
        return None, f"report.pdf not made: pdflatex failed (see {tex_path.with_suffix('.log').name})"
    return pdf, ""
