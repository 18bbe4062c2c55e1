"""The report's text pieces: number formatting, Markdown tables, the elimination, hold-out and
transfer sections, the standalone LaTeX document and its compilation."""
from __future__ import annotations

import math
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from gp_opt.report.run import ELIMINATION_FILE, HOLDOUT_FILE, TRANSFER_FILE, Entry, as_float


def fmt(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "−∞" if x < 0 else "∞"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v):
        return str(v).replace("|", "\\|").replace("\n", " ")
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


_BASE_UPDATES: dict[str, Any] = {}


def baseline_update(name: str, x: np.ndarray):
    from gp_opt import catalog
    from gp_opt import plots as P
    key = (name, len(x), float(x[0]), float(x[-1]))
    if key not in _BASE_UPDATES:
        _BASE_UPDATES[key] = P.update_curves(catalog.get(name), x)
    return _BASE_UPDATES[key]


def short_expr(e: Entry, n: int = 90) -> str:
    import sympy as sp
    text = sp.sstr(e.simplified if e.simplified is not None else "")
    return text if len(text) <= n else text[: n - 1] + "…"


def record_md(rec: dict) -> list[str]:
    out = [f"Fitness record: status **{rec.get('status')}**, fitness {fmt(as_float(rec.get('fitness')), 5)}, "
           f"best learning rate {rec.get('best_lr')}, {fmt(as_float(rec.get('seconds')), 3)} s"
           + (f", reason: {rec.get('reason')}" if rec.get("reason") else ""), ""]
    stages = rec.get("stages") or []
    if stages:
        keys = [k for k in ("lr", "status", "score", "final_loss", "steps_run", "seconds", "reason")
                if any(k in s for s in stages)]
        out += [md_table(keys, [[fmt(as_float(s.get(k))) if k in ("score", "final_loss", "seconds")
                                  else ("–" if s.get(k) is None else s.get(k)) for k in keys]
                                 for s in stages]), ""]
    return out


def tex_note_to_md(note: str) -> str:
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


def elimination_sections(doc: Any, notes: list[str], held: Any = None) -> tuple[list[str], list[str]]:
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
               md_table(["optimizer", "kind", "mean ± std", "seeds", "advanced"], rows), ""]
    budget = f" ({steps.pop()} steps each)" if len(steps) == 1 and None not in steps else ""
    caption = f"Elimination rounds{budget}: mean $\\pm$ std over seeds."
    if isinstance(held, dict) and isinstance(held.get("entries"), list) and held.get("seeds"):
        from gp_opt.eliminate.holdout import format_holdout
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


def higher_by_task(doc: dict, tasks: list[str]) -> list[bool]:
    """Whether a larger score is better, task by task (bits per character is not): the file's
    ``higher_is_better_by_task``, else each result row's own flag, else the file-wide one."""
    default = bool(doc.get("higher_is_better", True))
    by_task = doc.get("higher_is_better_by_task")
    by_task = dict(by_task) if isinstance(by_task, dict) else {}
    for r in doc.get("results") or ():
        if isinstance(r, dict) and "higher_is_better" in r:
            by_task.setdefault(str(r.get("task")), r["higher_is_better"])
    return [bool(by_task.get(t, default)) for t in tasks]


def _lr_range_table(table: dict[str, dict[str, dict]], tasks: list[str]) -> list[str]:
    """How forgiving each optimizer's rate is per task (issue 23): the stretch of the grid whose
    validation mean stays within the stated tolerance of the best; none before curves were kept."""
    found = [r["lr_range"] for per_task in table.values() for r in per_task.values()
             if isinstance(r.get("lr_range"), dict)]
    if not found:
        return []
    rows = [[name] + [(f"{r['low']:g}–{r['high']:g} ({r['decades']:.2g})"
                       if isinstance(r := per_task.get(t, {}).get("lr_range"), dict) else "–") for t in tasks]
            for name, per_task in table.items()]
    return ["Learning-rate range: the rates of the grid around the best whose validation mean stays within "
            f"{found[0]['tolerance']:.0%} of the best, and its width in decades.", "",
            md_table(["optimizer"] + tasks, rows), ""]


def transfer_sections(doc: Any, notes: list[str]) -> tuple[list[str], list[str]]:
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
    md += [md_table(["optimizer"] + tasks, rows), ""]
    md += _lr_range_table(table, tasks)
    tex = [L.results_table(tasks, [(name, [(_scores(per_task[t]) or None) if t in per_task else None
                                           for t in tasks]) for name, per_task in table.items()],
                           caption=f"Transfer: {L.tex_escape(metric)}, mean $\\pm$ std over seeds.",
                           label="tab:transfer", higher_is_better=higher_by_task(doc, tasks))]
    return md, tex


def report_tex(title: str, rows_summary: list[tuple[str, str]], tables: list[str], top: list, figures_top: int) -> str:
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


def compile_pdf(tex_path: Path) -> tuple[Path | None, str]:
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
