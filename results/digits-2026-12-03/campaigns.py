"""campaigns.png and the campaign table: best-so-far search fitness against candidates evaluated,
for the campaigns of this folder, read from each run's candidates.jsonl.

    python results/digits-2026-12-03/campaigns.py runs/campaign-digits-warm runs/campaign-digits-random ...
"""
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def curve(run: Path):
    lines = [json.loads(t) for t in run.joinpath("candidates.jsonl").read_text().splitlines() if t.strip()]
    best, xs, ys = float("-inf"), [], []
    for i, ln in enumerate(lines, 1):
        fit = (ln.get("record") or {}).get("fitness")
        if (ln.get("record") or {}).get("status") == "ok" and isinstance(fit, float) and fit > best:
            best = fit
            xs.append(i)
            ys.append(best)
    xs.append(len(lines))
    ys.append(best)
    created = datetime.strptime(json.loads(run.joinpath("run.json").read_text())["created"], "%Y-%m-%dT%H:%M:%S%z")
    last = datetime.fromtimestamp(lines[-1]["time"], tz=timezone.utc)
    return lines, xs, ys, (last - created).total_seconds()


def main(runs):
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    print("| run | candidates logged | wall (min) | evaluations / h | best search fitness |")
    print("|---|---:|---:|---:|---:|")
    for r in map(Path, runs):
        lines, xs, ys, wall = curve(r)
        ax.step(xs, ys, where="post", label=r.name.replace("campaign-digits-", ""))
        print(f"| {r.name} | {len(lines)} | {wall / 60:.1f} | {len(lines) / wall * 3600:.0f} | {ys[-1]:.4f} |")
    ax.set_xlabel("candidates evaluated (log order)")
    ax.set_ylabel("best search fitness so far (−val. loss)")
    ax.set_ylim(-0.2, None)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(Path(__file__).with_name("campaigns.png"), dpi=130)


if __name__ == "__main__":
    main(sys.argv[1:])
