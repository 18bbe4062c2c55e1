#!/usr/bin/env bash
# The rediscovery table of 2026-12-06 (issue 20): every campaign, then the collected summaries.
# Run from the repository root:  bash results/rediscovery-2026-12-06/commands.sh [main|rest|collect]
# Campaign directories go to $RUNS (default /tmp/rediscovery-2026-12-06; each is resumable: the
# same command continues it). Only their summaries are committed (collect copies them here).
# Budgets are what two shared CPU cores allowed in about 40 CPU-minutes (see README.md).
set -euo pipefail
RUNS=${RUNS:-/tmp/rediscovery-2026-12-06}
HERE=results/rediscovery-2026-12-06
SHAPE="--particles 5 --children 5 --init-factor 10"   # 50 initial candidates, then 25 per step
ALGOS="ga regularized random"

main() {   # SGD with momentum, RMSProp and Adam: 10 seeds of 500 candidates (5 seeds each first)
  for seeds in 5 10; do   # the second pass resumes each campaign and adds seeds 5..9
    for target in Momentum RMSProp Adam; do
      for algo in $ALGOS; do
        gp-opt rediscover "$target" --algorithm "$algo" --budget 500 --seeds "$seeds" $SHAPE \
          --out "$RUNS/$target-$algo" -q
      done
    done
  done
}

rest() {   # the other targets: 3 seeds of 400 candidates
  for target in Nesterov PowerSign AddSign QHM Opt1 Opt10; do
    grammar=()
    if [ "$target" = QHM ]; then grammar=(--grammar "$HERE/qhm-drawable.toml"); fi
    for algo in $ALGOS; do
      gp-opt rediscover "$target" "${grammar[@]}" --algorithm "$algo" --budget 400 --seeds 3 $SHAPE \
        --out "$RUNS/$target-$algo" -q
    done
  done
}

collect() {   # each campaign's settings, summary and per-seed results with the search's counters, gzipped
  mkdir -p "$HERE/campaigns"
  for dir in "$RUNS"/*/; do
    name=$(basename "$dir")
    [ -f "$dir/summary.json" ] || continue
    python - "$dir" <<'PY' | gzip -n -9 > "$HERE/campaigns/$name.json.gz"
import json, sys
from pathlib import Path
d = Path(sys.argv[1])
out = json.loads((d / "summary.json").read_text())
out["settings"] = json.loads((d / "rediscover.json").read_text())
for seed in out["seeds"]:   # the search's own tally: integrity rejections, duplicates, failed candidates
    ck = d / f"seed-{seed['seed']}" / "checkpoint.json"
    seed["counters"] = json.loads(ck.read_text())["state"].get("counters") if ck.exists() else None
json.dump(out, sys.stdout, indent=1)
PY
  done
  python "$HERE/table.py" "$HERE/campaigns" > "$HERE/table.md"
}

case "${1:-all}" in
  main) main ;;
  rest) rest ;;
  collect) collect ;;
  all) main; rest; collect ;;
esac
