"""The elimination funnel (SPEC section 8): ``gp-opt eliminate RUN_DIR``.

The best unique candidates of a search are trained again in rounds of growing cost, several seeds
each, and the best by mean validation accuracy go on to the next round. The paper's rounds are
top 50 at ConvNet base 64, top 24 at base 96 and top 12 at base 128 (16,000 steps, 3 seeds).
**Baselines** (``Adam, SGD, Opt6, Opt10`` by default) run in every round on the same seeds, so each
round's table puts discovered, published and hand-designed optimizers side by side.

One entry of a round (candidate or baseline) is scored on each seed by the surrogate protocol
(:mod:`gp_opt.surrogate`) at the round's base: on the first seed the full protocol (the
learning-rate screen, then the full run), on the other seeds a full run at the rate the first seed
chose -- the same grid and budget for every optimizer. All the entries of a round that share a seed
(and, after the screen, a rate) train together in the surrogate's shared ensembles when the
device's path rule says the ensembles pay (:func:`gp_opt.surrogate.path_choice.choose_batched`).

Ranking: mean validation accuracy over the seeds, ties broken by the lower mean validation loss; an
entry rejected or failed on any seed ranks last. Only candidates compete for the next round.

Files in ``RUN_DIR/elimination/`` (the search's guarantees):

- ``records.jsonl`` -- append-only, one line per (round, entry, seed) as soon as it is known
  (flushed and fsynced); a killed funnel run again skips every line already there;
- ``checkpoint.json`` -- written atomically after every batch: the funnel's settings, the entries
  of each round and how many records it has seen; a second run with other settings is refused;
- ``summary.json`` -- the rounds in the form ``gp-opt report`` reads (``rounds[].entries[]`` with
  ``name``, ``kind``, ``scores``, ``advanced``) plus the settings and the winner;
- ``table.md`` -- the rounds as Markdown tables; ``genomes/<name>.json`` -- the candidates.

The run directory's writer lock is held throughout: a run still being written by a live search is
refused (one line, exit 2 on the command line).

Modules, one concept each: :mod:`~gp_opt.eliminate.settings` (presets, ``--rounds``, the
settings), :mod:`~gp_opt.eliminate.candidates` (a run's best unique candidates, the baselines),
:mod:`~gp_opt.eliminate.ranking`, :mod:`~gp_opt.eliminate.training` (the surrogate, in this
process or on an executor), :mod:`~gp_opt.eliminate.store` (``elimination/``'s files),
:mod:`~gp_opt.eliminate.funnel` (the rounds and their seeds), :mod:`~gp_opt.eliminate.summary`
(summary and tables) and :mod:`~gp_opt.eliminate.holdout` (``--holdout N``).
"""
from .candidates import Entry, best_candidates, check_baselines, genome_file, search_behaviour
from .funnel import FunnelRun, eliminate, run_round, run_seed
from .ranking import entry_stats, rank_entries, rank_key
from .settings import (CHECKPOINT_FILE, DEFAULT_BASELINES, ELIM_DIR, PRESETS, RECORDS_FILE, SUMMARY_FILE, TABLE_FILE,
                       EliminationError, EliminationSettings, parse_rounds)
from .store import RecordStore, record_line
from .summary import format_table
from .training import Evaluator, SurrogateCall, ensemble_map, surrogate_evaluator

__all__ = ["CHECKPOINT_FILE", "DEFAULT_BASELINES", "ELIM_DIR", "PRESETS", "RECORDS_FILE", "SUMMARY_FILE",
           "TABLE_FILE", "EliminationError", "EliminationSettings", "Entry", "Evaluator", "FunnelRun",
           "RecordStore", "SurrogateCall", "best_candidates", "check_baselines", "eliminate", "ensemble_map",
           "entry_stats", "format_table", "genome_file", "parse_rounds", "rank_entries", "rank_key",
           "record_line", "run_round", "run_seed", "search_behaviour", "surrogate_evaluator"]
