"""Does the search beat random search? Random search, the particle GA and regularized evolution at
an equal budget, several search seeds each, every run's best judged the same way on held-out seeds.

    python benchmarks/search_efficacy.py --out results/search-efficacy-X --task digits \\
        --set metric=val_loss --search-seeds 3 --particles 4 --children 3 --steps 6 --init-factor 6

For each algorithm and search seed it runs ``run_search`` into ``OUT/runs/ALGO-sSEED`` (a killed
benchmark resumes each run with ``resume_search``; a finished one is reused). Then, at each budget
``B`` of ``--checkpoints`` (candidates logged, in the order the search logged them), the judge:

1. **entries**: the run's ``--top`` best unique candidates among its first ``B`` (by search
   fitness; near-twins within tolerance left out, :mod:`gp_opt.twins`);
2. **funnel round**: each entry scored on ``--round-seeds`` seeds (1000, 1001, ...) by the same task
   and settings; the best ``3`` by mean go on;
3. **held-out**: those scored on ``--holdout`` seeds (2000, 2001, ...) no search or funnel used.
   *Held-out top-1* is the funnel's winner's held-out mean; *top-3* the mean of the three's.

Every judge evaluation is appended to ``OUT/judge.jsonl`` as it finishes (keyed by genome key and
seed, so the same genome is never scored twice on a seed; a killed benchmark resumes). The table
(``OUT/table.md``) gives, per algorithm and budget, the mean over search seeds with a 95 % t
interval over the runs whose judged scores are finite (a finalist that fails on a held-out seed
makes its run's score -inf; the table counts them), and Welch's t-test p-values of each
algorithm against random search; the figure
(``OUT/efficacy.png``) plots held-out top-1 and top-3 against candidates evaluated. The search seeds
are independent runs, so the tests are unpaired; with 3 seeds per algorithm they have little
power, and the table says how many runs each cell holds.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gp_opt.errors import GpOptError  # noqa: E402

ROUND_SEED0, HOLDOUT_SEED0 = 1000, 2000
FINALISTS = 3


def _parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--task", default="digits")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--algorithms", default="random,particle,regularized",
                   help="comma-separated; ALGO+noise runs ALGO with noise-aware selection "
                   "(gp_opt.search.noise defaults), e.g. random,regularized,regularized+noise")
    p.add_argument("--search-seeds", type=int, default=3)
    p.add_argument("--particles", type=int, default=4)
    p.add_argument("--children", type=int, default=3)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--init-factor", type=int, default=6)
    p.add_argument("--checkpoints", default=None, help="budgets (candidates logged), e.g. 24,48,96 "
                   "(default: the initial population, half and all of the smallest run)")
    p.add_argument("--top", type=int, default=6, help="entries per run and budget")
    p.add_argument("--round-seeds", type=int, default=3)
    p.add_argument("--holdout", type=int, default=8)
    p.add_argument("--workers", type=int, default=0, help="worker processes per search run")
    p.add_argument("--judge-fitness-seeds", type=int, default=1, metavar="K",
                   help="seeds per judge evaluation (default 1: each round or held-out seed is one "
                   "training, whatever the search's --fitness-seeds)")
    return p.parse_args(argv)


def _runs(args, options):
    from gp_opt.search import ALGORITHMS, resume_search, run_search

    out = {}
    for algo in args.algorithms.split(","):
        base, _, variant = algo.partition("+")
        if variant not in ("", "noise") or base not in ALGORITHMS:
            print(f"note: --algorithm {algo} is not available in this gp_opt ({', '.join(ALGORITHMS)}); "
                  "left out", file=sys.stderr)
            continue
        for seed in range(args.search_seeds):
            d = Path(args.out) / "runs" / f"{algo}-s{seed}"
            t0 = time.process_time()
            if (d / "run.json").exists():
                summary = d / "summary.json"
                if not summary.exists():
                    resume_search(d, verbose=False)
            else:
                run_search(args.task, d, args.particles, args.steps, args.children, seed=seed,
                           init_factor=args.init_factor, algorithm=base, task_options=dict(options),
                           noise=True if variant == "noise" else None, workers=args.workers, verbose=False)
            print(f"{algo} seed {seed}: {d} ({time.process_time() - t0:.0f} CPU s this session)", file=sys.stderr)
            out[(algo, seed)] = d
    return out


def _lines(run_dir: Path) -> list[dict]:
    """The run's candidates.jsonl, every line checked (an edited line is refused; a cut last line
    is left out), in the order the search logged them."""
    from gp_opt.rundir import RunDir

    rd = RunDir.open(run_dir, lock=False)
    try:
        return rd.read_candidates(repair=False)
    finally:
        rd.close()


def _entries(lines: list[dict], top: int) -> list[dict]:
    """The ``top`` best unique candidates of ``lines`` by the fitness the search selected on (a
    noise-aware run's derived mean - SE over the evaluations in ``lines``, not its luckiest one)."""
    from gp_opt.search.noise import with_derived_records
    from gp_opt.twins import first_of_twins

    best: dict[str, dict] = {}
    for ln in with_derived_records(lines):
        rec = ln.get("record") or {}
        fit = rec.get("fitness")
        if rec.get("status") != "ok" or not isinstance(fit, (int, float)) or not math.isfinite(fit):
            continue
        key = ln.get("key") or f"seq{ln['seq']}"
        if key not in best or fit > best[key]["record"]["fitness"]:
            best[key] = ln
    ranked = sorted(best.values(), key=lambda ln: (-ln["record"]["fitness"], ln["seq"]))
    kept, _ = first_of_twins([ln["record"] for ln in ranked], limit=top)
    return [ranked[i] for i in kept]


class Judge:
    """Scores genomes on seeds once each, appended to ``judge.jsonl`` as it goes."""

    def __init__(self, out: Path, task):
        from gp_opt.rundir import JsonLog
        from gp_opt.rundir.jsonlog import print_notes

        self.path, self.task = out / "judge.jsonl", task
        # the project's checked log: an edited score is refused, a cut last line moved aside and redone
        self.log = JsonLog(self.path, "benchmarks.search_efficacy:judge.jsonl", root=out, legacy=True)
        self.done: dict[tuple[str, int], float] = {}
        for row in self.log.read():
            self.done[(row["key"], row["seed"])] = float(row["score"])
        print_notes(self.log.notes)
        self.cpu = 0.0

    def score(self, line: dict, seed: int) -> float:
        from gp_opt.genome import OptimizerGenome

        key = line.get("key") or line["individual"]
        if (key, seed) not in self.done:
            indiv = line["individual"]
            genome = OptimizerGenome.from_json(indiv if isinstance(indiv, str) else json.dumps(indiv))
            t0 = time.process_time()
            rec = self.task(genome, seed=seed)
            self.cpu += time.process_time() - t0
            value = float(rec.fitness) if rec.ok and math.isfinite(rec.fitness) else -math.inf
            self.log.append({"key": key, "seed": seed, "score": value, "status": rec.status})
            self.done[(key, seed)] = value
        return self.done[(key, seed)]

    def judge(self, entries: list[dict], round_seeds: int, holdout: int) -> dict:
        def mean(xs):
            return sum(xs) / len(xs) if xs and all(math.isfinite(x) for x in xs) else -math.inf

        scored = [(mean([self.score(e, ROUND_SEED0 + j) for j in range(round_seeds)]), i, e)
                  for i, e in enumerate(entries)]
        finalists = [e for m, _, e in sorted(scored, key=lambda t: (-t[0], t[1]))[:FINALISTS]]
        held = [mean([self.score(e, HOLDOUT_SEED0 + j) for j in range(holdout)]) for e in finalists]
        return {"top1": held[0] if held else -math.inf,
                "top3": mean(held) if held else -math.inf,
                "finalists": [e["seq"] for e in finalists]}


def _t_ci(xs: list[float]) -> tuple[float, float]:
    from scipy import stats

    n = len(xs)
    m = sum(xs) / n
    if n < 2:
        return m, math.nan
    sd = (sum((x - m) ** 2 for x in xs) / (n - 1)) ** 0.5
    return m, stats.t.ppf(0.975, n - 1) * sd / n ** 0.5


def _welch(a: list[float], b: list[float]) -> float:
    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return math.nan
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def main(argv=None) -> int:
    args = _parse(argv)
    from gp_opt.cli.common import parse_set
    from gp_opt.tasks import get_task

    try:
        options = parse_set(args.set, args.task)
        get_task(args.task, **dict(options))  # the search's task: checked before anything runs
        task = get_task(args.task, **{**dict(options), "fitness_seeds": args.judge_fitness_seeds})
    except GpOptError as exc:
        print(f"search_efficacy: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.process_time()
    runs = _runs(args, options)
    lines = {k: _lines(d) for k, d in runs.items()}
    if not lines:
        print("search_efficacy: error: no algorithm could run", file=sys.stderr)
        return 2
    smallest = min(len(v) for v in lines.values())
    if args.checkpoints:
        checkpoints = sorted({int(c) for c in args.checkpoints.split(",")})
    else:
        checkpoints = sorted({args.init_factor * args.particles, smallest // 2, smallest})
    checkpoints = [c for c in checkpoints if 0 < c <= smallest]
    judge = Judge(out, task)
    rows = []
    for (algo, seed), ls in sorted(lines.items()):
        for b in checkpoints:
            got = judge.judge(_entries(ls[:b], args.top), args.round_seeds, args.holdout)
            rows.append({"algorithm": algo, "search_seed": seed, "budget": b, **got,
                         "cpu_seconds_search": sum(float((ln.get("seconds") or {}).get("cpu") or 0.0) for ln in ls[:b])})
    order = [a for base in ("random", "particle", "regularized") for a in (base, base + "+noise")]
    algos = sorted({r["algorithm"] for r in rows}, key=order.index)
    table = ["| algorithm | candidates | search CPU s (mean) | runs (top-1 finite) | held-out top-1 (95 % CI) | p vs random "
             "| held-out top-3 (95 % CI) | p vs random |", "|---|---|---|---|---|---|---|---|"]
    summary = []
    for b in checkpoints:
        base = {k: [r[k] for r in rows if r["algorithm"] == "random" and r["budget"] == b] for k in ("top1", "top3")}
        for algo in algos:
            cell = {k: [r[k] for r in rows if r["algorithm"] == algo and r["budget"] == b] for k in ("top1", "top3")}
            finite = {k: [x for x in v if math.isfinite(x)] for k, v in cell.items()}
            m1, h1 = _t_ci(finite["top1"]) if finite["top1"] else (math.nan, math.nan)
            m3, h3 = _t_ci(finite["top3"]) if finite["top3"] else (math.nan, math.nan)
            p1 = _welch(finite["top1"], base["top1"]) if algo != "random" and base["top1"] else math.nan
            p3 = _welch(finite["top3"], base["top3"]) if algo != "random" and base["top3"] else math.nan
            cpu = [r["cpu_seconds_search"] for r in rows if r["algorithm"] == algo and r["budget"] == b]
            cpu_mean = sum(cpu) / len(cpu)
            summary.append({"algorithm": algo, "budget": b, "runs": len(cell["top1"]), "cpu_seconds": cpu_mean,
                            "top1": m1, "top1_ci": h1,
                            "top3": m3, "top3_ci": h3, "p_top1_vs_random": p1, "p_top3_vs_random": p3})
            fmt = lambda v, f=".4f": "—" if not math.isfinite(v) else format(v, f)  # noqa: E731
            table.append(f"| {algo} | {b} | {cpu_mean:.0f} | {len(cell['top1'])} ({len(finite['top1'])}) | {fmt(m1)} ± {fmt(h1)} | {fmt(p1, '.2g')} "
                         f"| {fmt(m3)} ± {fmt(h3)} | {fmt(p3, '.2g')} |")
    from gp_opt.rundir.files import atomic_write_json, atomic_write_text

    atomic_write_json(out / "summary.json", {"args": vars(args), "runs": rows, "table": summary,
                                             "judge_cpu_seconds_this_session": judge.cpu,
                                             "cpu_seconds_this_session": time.process_time() - t_start})
    atomic_write_text(out / "table.md", "\n".join(table) + "\n")
    _figure(out / "efficacy.png", summary, algos, args)
    print("\n".join(table))
    return 0


def _figure(path: Path, summary: list[dict], algos: list[str], args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, k in zip(axes, ("top1", "top3")):
        for j, algo in enumerate(algos):
            pts = [s for s in summary if s["algorithm"] == algo and math.isfinite(s[k])]
            xs = [s["budget"] * (1 + 0.02 * (j - 1)) for s in pts]  # a small offset keeps the bars apart
            ax.errorbar(xs, [s[k] for s in pts], yerr=[0 if not math.isfinite(s[k + "_ci"]) else s[k + "_ci"]
                                                       for s in pts], marker="o", capsize=3, label=algo)
        ax.set_xlabel("candidates evaluated")
        ax.set_title(f"held-out {'top-1' if k == 'top1' else 'top-3 mean'} ({args.holdout} seeds)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"fitness of task {args.task} (higher is better)")
    axes[0].legend()
    fig.suptitle(f"search efficacy: {args.search_seeds} search seeds per algorithm, 95 % t intervals")
    fig.tight_layout()
    tmp = path.with_name("." + path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
