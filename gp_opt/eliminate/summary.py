"""What a funnel run leaves to read: each round as ``summary.json`` keeps it, the summary with the
winner, and the rounds as Markdown tables (``table.md``)."""
from __future__ import annotations

import math
from typing import Any

from .candidates import Entry
from .ranking import rank_entries
from .settings import SUMMARY_FILE, TABLE_FILE, EliminationSettings
from .store import RecordStore


def round_summary(j: int, base: int, top: int, seeds: list[int], entries: list[Entry],
                  stats: dict[str, dict[str, Any]], advancing: set[str], cfg: Any, next_top: int) -> dict[str, Any]:
    """A round as ``summary.json`` keeps it: its entries best first, with their scores."""
    rows = []
    order = rank_entries([e.name for e in entries], stats)
    kinds = {e.name: e for e in entries}
    for name in order:
        e, s = kinds[name], stats[name]
        rows.append({"name": name, "kind": e.kind, "key": e.key, "scores": s["scores"], "val_loss": s["val_loss"],
                     "mean": s["mean"] if s["ok"] else None, "std": s["std"] if s["ok"] else None,
                     "mean_loss": s["mean_loss"] if s["ok"] and math.isfinite(s["mean_loss"]) else None,
                     "status": s["status"], "reason": s.get("reason"),
                     "advanced": (name in advancing) if (e.kind == "candidate" and next_top) else None,
                     **({"search": e.info} if e.info else {})})
    return {"name": f"round {j + 1}", "top": top, "base": base, "steps": cfg.total_steps, "seeds": seeds,
            "dataset": cfg.dataset, "entries": rows}


def write_summary(store: RecordStore, settings: EliminationSettings, rounds: list[dict[str, Any]], notes: list[str],
                  run_id: str, final: bool) -> dict[str, Any]:
    """``summary.json`` and ``table.md`` (the winner only once the last round is ``final``)."""
    last = rounds[-1] if rounds else None
    winner = None
    if final and last is not None:
        best = [e for e in last["entries"] if e["kind"] == "candidate" and e["status"] == "ok"]
        winner = best[0]["name"] if best else None
    summary = {"metric": "validation accuracy (mean over seeds; ties: lower validation loss)",
               "higher_is_better": True, "settings": settings.identity(), "run_id": run_id,
               "complete": final, "notes": notes, "winner": winner, "rounds": rounds}
    store.write_json(SUMMARY_FILE, summary)
    store.write_text(TABLE_FILE, format_table(summary) + "\n")
    return summary


def _fmt(mean: float | None, std: float | None, n: int, status: str = "failed") -> str:
    if mean is None:
        return status
    return f"{mean:.4f} ± {std:.4f}" if n > 1 else f"{mean:.4f}"


def format_table(summary: dict[str, Any]) -> str:
    """The rounds as Markdown tables (best first)."""
    out = []
    for rnd in summary["rounds"]:
        out += [f"### {rnd['name']}: base {rnd['base']}, {rnd['steps']} steps, seeds {rnd['seeds']}", "",
                "| rank | optimizer | kind | val. accuracy (mean ± std) | val. loss (mean) | advanced |",
                "|---:|---|---|---|---|---|"]
        for i, e in enumerate(rnd["entries"], 1):
            adv = {True: "yes", False: "no", None: "–"}[e["advanced"]]
            loss = "–" if e["mean_loss"] is None else f"{e['mean_loss']:.4f}"
            out.append(f"| {i} | {e['name']} | {e['kind']} | {_fmt(e['mean'], e['std'], len(e['scores']), e['status'])} | "
                       f"{loss} | {adv} |")
        out.append("")
    for n in summary.get("notes") or ():
        out.append(f"Note: {n}")
    if summary.get("winner"):
        out.append(f"Best candidate after the last round: {summary['winner']}")
    return "\n".join(out).rstrip()
