"""The funnel's entries: a run's best unique candidates (twins left out), the baselines and where
a candidate's genome is kept."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from gp_opt.errors import GpOptError

from .settings import EliminationError


@dataclass
class Entry:
    name: str
    kind: str  # "candidate" or "baseline"
    optimizer: Any  # a genome or a baseline name
    key: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ident(self) -> str:
        """What its records are filed under: the genome's key (a candidate), the name (a baseline)."""
        return self.key or self.name


def best_candidates(lines: list[dict[str, Any]], run_cfg: dict[str, Any], n: int,
                    exclude_names: Sequence[str] = (), run_dir: Any = None, buffers: int | None = None) -> list[Entry]:
    """The ``n`` best unique (by key) successful candidates of a run, best first (ties: earlier).
    Warm-start genomes (``origin``) named in ``exclude_names`` are left out: they run as baselines.
    ``buffers``: only those keeping that many state buffers per parameter (:func:`gp_opt.card.state_buffers`).
    Genomes are read in the run's grammar: its copy in ``run_dir`` (never a path run.json names)."""
    from gp_opt.genome import OptimizerGenome
    from gp_opt.rundir.carried import run_grammar

    from gp_opt.search.noise import with_derived_records  # a noise-aware run: its derived fitness

    grammar = run_grammar(run_dir, run_cfg.get("toolbox"))
    lines = with_derived_records(lines)
    skip = {s.lower() for s in exclude_names}
    best: dict[str, dict[str, Any]] = {}
    for line in lines:
        rec = line.get("record") or {}
        fit = rec.get("fitness")
        if rec.get("status") != "ok" or not isinstance(fit, (int, float)) or not math.isfinite(fit):
            continue
        if str(line.get("origin", "")).lower() in skip:
            continue
        key = line.get("key") or f"seq{line['seq']}"
        if key not in best or fit > best[key]["record"]["fitness"]:
            best[key] = line
    from gp_opt.twins import first_of_twins  # near-twins within a tolerance (docs/elimination.md)

    # one fitness scale per ranking: where the run scored its initial population on a smaller
    # ConvNet (the paper preset's base 32 before base 48), the evolution's scores rank first and
    # the smaller net's after them, never interleaved (docs/surrogate.md, "One fitness scale")
    genomes: dict[str, Any] = {}   # parsed once, and only where needed: a long run logs thousands
    if buffers is not None:
        from gp_opt.card import state_buffers
        genomes = {key: OptimizerGenome.from_json(_text(line), grammar=grammar) for key, line in best.items()}
        best = {key: line for key, line in best.items() if len(state_buffers(genomes[key])) == buffers}
    main_base = max((b for b in map(_scale, best.values()) if b is not None), default=None)
    ranked = sorted(best.values(), key=lambda ln: (_scale(ln) != main_base, -ln["record"]["fitness"], ln["seq"]))
    kept, left_out = first_of_twins([ln["record"] for ln in ranked], limit=n)
    ordered = [ranked[i] for i in kept]
    twins = {ranked[i]["seq"]: [ranked[j]["seq"] for j in left_out[i]] for i in kept}
    out = []
    for rank, line in enumerate(ordered, 1):
        key = line.get("key") or f"seq{line['seq']}"
        genome = genomes[key] if key in genomes else OptimizerGenome.from_json(_text(line), grammar=grammar)
        name = f"#{rank}" + (f" ({line['origin']})" if line.get("origin") else "")
        out.append(Entry(name, "candidate", genome, line.get("key"),
                         {"seq": line["seq"], "search_fitness": line["record"]["fitness"],
                          "search_lr": line["record"].get("best_lr"), "step": line.get("step"),
                          "twins": twins[line["seq"]]}))
    return out


def _text(line: dict[str, Any]) -> str:
    indiv = line["individual"]
    return indiv if isinstance(indiv, str) else json.dumps(indiv)


def _scale(line: dict[str, Any]) -> Any:
    """The ConvNet base a surrogate record was scored at (None: not a surrogate record)."""
    config = ((line.get("record") or {}).get("extra") or {}).get("config")
    return config.get("base") if isinstance(config, dict) else None


def genome_file(name: str) -> str:
    """Where ``elimination/`` keeps candidate ``name``'s genome: ``#3 (Opt6)`` -> ``genomes/c3.json``."""
    return f"genomes/{name.split(' ')[0].replace('#', 'c')}.json"


def search_behaviour(record: dict[str, Any]) -> str | None:
    """What a candidate did in the search, to the last bit: its fitness, rate and every stage's
    losses and accuracies; ``None`` when the record holds no stages to compare.

    Distinct genomes can be one optimizer in effect (a clip that never binds, a branch multiplied by
    zero); their search records are then identical in every float, which chance does not produce.
    The funnel keeps the best-ranked of such twins: training the others spends its slots on one
    result several times.

    >>> a = {"fitness": -0.1, "best_lr": 0.1, "stages": [{"stage": "full", "lr": 0.1, "train_loss": 0.5}]}
    >>> search_behaviour(a) == search_behaviour(dict(a)), search_behaviour({"fitness": -0.1})
    (True, None)
    """
    stages = record.get("stages")
    if not stages:
        return None
    keep = ("stage", "lr", "status", "steps", "train_loss", "train_acc", "best_val_acc", "val_history",
            "val_loss_history")
    return json.dumps([record.get("fitness"), record.get("best_lr"),
                       [{k: st.get(k) for k in keep} for st in stages]], sort_keys=True)


def check_baselines(names: Sequence[str]) -> None:
    from gp_opt.surrogate import resolve_optimizer

    for n in names:
        try:
            resolve_optimizer(n)
        except GpOptError:
            raise EliminationError(f"unknown baseline {n!r}: not a torch baseline (adam, sgd, ...) nor a catalog "
                                   f"name (Opt1..Opt10, QHM, ...)") from None
