"""A held-out check of the elimination's finalists: fresh seeds, the last round's cost and rates.

Elimination picked its finalists on seeds 0-4, so their last-round scores carry a selection bias (the
best of many on the same seeds). Here each finalist and the baselines are trained again on 20
fresh seeds, 5-24 (new initial weights, batch order, augmentation, dropout masks and train/validation split) at
the digits elimination preset's last round (ConvNet base 16, 160 steps), each at the learning rate
its own elimination chose on seed 0, and compared with Adam and Opt6 by Welch's t-test and, since
every entry shares the seeds, by the paired t-test.

    python results/digits-2026-12-03/confirm.py OUT_DIR NAME=GENOME_JSON@LR ... Adam@0.1 Opt6@10
"""
import json
import sys
import time
from pathlib import Path

from scipy import stats

from gp_opt import catalog
from gp_opt.eliminate import EliminationSettings
from gp_opt.surrogate import evaluate_many
from gp_opt.transfer.stats import compare, mean_std

SEEDS = range(5, 25)
BASE = 16


def parse(arg):
    spec, lr = arg.rsplit("@", 1)
    name, _, path = spec.partition("=")
    return name, (catalog.load(path) if path else name), float(lr)


def main(out, entries):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = EliminationSettings(preset="digits", seeds=1)
    rows = {name: {"lr": lr, "val_acc": [], "val_loss": [], "status": []} for name, _, lr in entries}
    t0 = time.time()
    for seed in SEEDS:
        cfg = settings.round_config(BASE, seed, {"dataset": "digits"})
        by_lr = {}
        for name, opt, lr in entries:
            by_lr.setdefault(lr, []).append((name, opt))
        for lr, group in by_lr.items():
            recs = evaluate_many([o for _, o in group], cfg.replace(fixed_lr=lr))
            for (name, _), r in zip(group, recs):
                rows[name]["status"].append(r.status)
                rows[name]["val_acc"].append(r.extra.get("best_val_acc"))
                rows[name]["val_loss"].append(r.extra.get("val_loss"))
        print(f"seed {seed} done ({time.time() - t0:.0f} s)", flush=True)
    (out / "confirm.json").write_text(json.dumps({"seeds": list(SEEDS), "base": BASE, "entries": rows}, indent=1))
    md = [f"# Held-out seeds {SEEDS.start}-{SEEDS.stop - 1}: base {BASE}, 160 steps, each at its elimination rate",
          "", f"{len(SEEDS)} seeds; Welch = Welch's t-test, paired = paired t-test over the shared seeds "
          "(two-sided). A diff is the entry minus the reference.", "",
          "| optimizer | lr | val. accuracy | val. loss | acc. vs Adam (Welch p, paired p) | loss vs Adam | "
          "acc. vs Opt6 | loss vs Opt6 |", "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        if any(s != "ok" for s in r["status"]):
            md.append(f"| {name} | {r['lr']:g} | {r['status']} | | | | | |")
            continue
        cells = [name, f"{r['lr']:g}"]
        for k in ("val_acc", "val_loss"):
            m, s = mean_std(r[k])
            cells.append(f"{m:.4f} ± {s:.4f}")
        for ref in ("Adam", "Opt6"):
            for k, hib in (("val_acc", True), ("val_loss", False)):
                if name == ref:
                    cells.append("–")
                    continue
                c = compare(r[k], rows[ref][k], higher_is_better=hib)
                pp = stats.ttest_rel(r[k], rows[ref][k]).pvalue
                cells.append(f"{c['diff']:+.4f} ({c['p']:.3f}, {pp:.3f})")
        md.append("| " + " | ".join(cells) + " |")
    (out / "confirm.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main(sys.argv[1], [parse(a) for a in sys.argv[2:]])
