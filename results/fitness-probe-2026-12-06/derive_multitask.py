"""The surrogate+digits multi-task fitness on the probe panel, derived from the two single-task
probes' evaluations in this folder (each task is a pure function of candidate and seed, so these
are the evaluations a ``--task surrogate+digits`` probe makes; ``multi_rel_direct`` checks it).

    PYTHONPATH=. python results/fitness-probe-2026-12-06/derive_multitask.py relative
    PYTHONPATH=. python results/fitness-probe-2026-12-06/derive_multitask.py rank
"""
import json
import sys
from pathlib import Path

from gp_opt.multitask import DEFAULT_PANEL, combine_rank, combine_relative
from gp_opt.probe.run import ProbeResult, format_tables, summarize

HERE = Path(__file__).resolve().parent


def load(name):
    return {(r["name"], r["seed"]): r for r in map(json.loads, open(HERE / name / "evaluations.jsonl"))}


def main(rule):
    surr, mlp = load("surr_digits"), load("mlp_val_loss")
    rows = []
    for (name, seed), a in surr.items():
        b = mlp[(name, seed)]
        row = {"name": name, "seed": seed, "cpu_seconds": a["cpu_seconds"] + b["cpu_seconds"],
               "status": "ok" if a["status"] == b["status"] == "ok" else "rejected"}
        if row["status"] == "ok":
            scores = [a["fitness"], b["fitness"]]
            if rule == "relative":
                row["fitness"] = combine_relative(scores, [surr[("Adam", seed)]["fitness"], mlp[("Adam", seed)]["fitness"]])
            else:
                row["fitness"] = combine_rank(scores, [[surr[(p, seed)]["fitness"] for p in DEFAULT_PANEL],
                                                       [mlp[(p, seed)]["fitness"] for p in DEFAULT_PANEL]])
        rows.append(row)
    settings = dict(json.loads((HERE / "surr_digits" / "probe.json").read_text()),
                    task=f"surrogate+digits, derived ({rule})", options={})
    print(format_tables(summarize(ProbeResult(rows, settings))))
    direct = load("multi_rel_direct")
    if rule == "relative":
        same = [(k, r["fitness"], next(x["fitness"] for x in rows if (x["name"], x["seed"]) == k))
                for k, r in direct.items() if r["status"] == "ok"]
        assert all(abs(u - v) < 1e-12 for _, u, v in same), same
        print(f"\ncheck: {len(same)} evaluations of the direct surrogate+digits probe equal the derived values")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "relative")
