"""The funnel's settings: file names, the presets per dataset, ``--rounds`` and
:class:`EliminationSettings` (what a resumed funnel must share with the one that wrote its records).

>>> parse_rounds("50:64,24:96,12:128")
[(50, 64), (24, 96), (12, 128)]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gp_opt.errors import GpOptError

ELIM_DIR = "elimination"
RECORDS_FILE = "records.jsonl"
CHECKPOINT_FILE = "checkpoint.json"
SUMMARY_FILE = "summary.json"
TABLE_FILE = "table.md"
DEFAULT_BASELINES = ("Adam", "SGD", "Opt6", "Opt10")

#: Per dataset: the rounds, the surrogate preset the rounds start from and what they change in it.
#: ``paper`` is SPEC section 8 (a GPU's work); ``digits`` runs in CPU-minutes: the search preset's
#: base-8 ConvNet, then bases 12 and 16, a budget a third longer than the search's.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"rounds": "50:64,24:96,12:128", "surrogate": "paper",
              "overrides": {"total_steps": 16000, "warmup_steps": 1600}},
    "digits": {"rounds": "8:8,4:12,2:16", "surrogate": "digits",
               "overrides": {"total_steps": 160, "warmup_steps": 16, "eval_every": 40, "stop_check_after": 60,
                             "init_base": None}},
    # for tests and demos: seconds on a CPU
    "tiny": {"rounds": "4:4,2:6", "surrogate": "digits",
             "overrides": {"screen_steps": 12, "screen_cut_step": 9, "total_steps": 24, "warmup_steps": 2,
                           "stop_check_after": 12, "eval_every": 12, "acc_window": 3, "check_every": 3,
                           "screen_threshold_first": 0.15, "screen_threshold_second": 0.2,
                           "screen_cut_threshold": 0.1, "stop_threshold": 0.1, "init_base": None}},
}


class EliminationError(GpOptError):
    """Bad settings for the funnel or a run directory it cannot use."""


def parse_rounds(text: str) -> list[tuple[int, int]]:
    """``"50:64,24:96"`` -> ``[(50, 64), (24, 96)]`` (top-N : ConvNet base); N must not grow."""
    rounds = []
    for part in str(text).split(","):
        part = part.strip()
        top, sep, base = part.partition(":")
        try:
            if not sep:
                raise ValueError
            rounds.append((int(top), int(base)))
        except ValueError:
            raise EliminationError(f"--rounds {text!r}: each round is TOP:BASE, e.g. 50:64 (got {part!r})") from None
    if not rounds:
        raise EliminationError("--rounds is empty")
    for top, base in rounds:
        if top < 1 or base < 1:
            raise EliminationError(f"--rounds {text!r}: TOP and BASE must be >= 1")
    if any(b[0] > a[0] for a, b in zip(rounds, rounds[1:])):
        raise EliminationError(f"--rounds {text!r}: a later round cannot keep more candidates than an earlier one")
    return rounds


@dataclass
class EliminationSettings:
    preset: str = "digits"
    rounds: list[tuple[int, int]] = field(default_factory=list)  # empty: the preset's
    seeds: int = 3
    baselines: list[str] = field(default_factory=lambda: list(DEFAULT_BASELINES))
    overrides: dict[str, Any] = field(default_factory=dict)  # SurrogateConfig fields on top of the preset
    batched: bool | None = None  # None: the path rule (gp_opt.surrogate.path_choice)
    #: only candidates keeping this many state buffers per parameter (gp_opt.card.state_buffers),
    #: in their own folder ``elimination-buffers{B}/`` (None: every candidate, ``elimination/``)
    buffers: int | None = None

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise EliminationError(f"unknown elimination preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        if not self.rounds:
            self.rounds = parse_rounds(PRESETS[self.preset]["rounds"])
        if int(self.seeds) < 1:
            raise EliminationError("--seeds must be >= 1")
        if self.buffers is not None and (isinstance(self.buffers, bool) or not isinstance(self.buffers, int)
                                         or self.buffers < 0):
            raise EliminationError(f"--buffers must be a non-negative integer, got {self.buffers!r}")

    @property
    def folder(self) -> str:
        """The funnel's folder in the run directory: one per buffer count, so they never mix."""
        return ELIM_DIR if self.buffers is None else f"{ELIM_DIR}-buffers{self.buffers}"

    def identity(self) -> dict[str, Any]:
        """What a resumed funnel must share with the one that wrote the records."""
        out = {"preset": self.preset, "rounds": [list(r) for r in self.rounds], "seeds": int(self.seeds),
               "baselines": list(self.baselines), "overrides": dict(self.overrides)}
        if self.buffers is not None:  # absent otherwise: funnels written before it resume as they were
            out["buffers"] = self.buffers
        return out

    def round_config(self, base: int, seed: int, run_options: dict[str, Any]) -> Any:
        from gp_opt.surrogate import SurrogateConfig

        p = PRESETS[self.preset]
        kw = dict(p["overrides"])
        for k in ("dataset", "data_dir"):
            if run_options.get(k) is not None:
                kw[k] = run_options[k]
        kw.update(self.overrides)
        kw.update(base=base, seed=seed)
        return SurrogateConfig.preset(p["surrogate"], **kw)
