#!/usr/bin/env bash
# The rediscovery table of 2026-12-06 (issue 20): every campaign, then the collected summaries.
# Run from the repository root:  bash results/rediscovery-2026-12-06/commands.sh [main|rest|large|huge|adaptive|local_default|adaptive_analyse|analyse|alternatives|collect]
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

large() {   # RMSProp and Adam at 5,000 candidates per seed (10x main's): regularized evolution, 4 seeds
  # each, and random search on Adam, 2 seeds (about 12 CPU-minutes in all; README.md, "At 5,000")
  for target in Adam RMSProp; do
    gp-opt rediscover "$target" --algorithm regularized --budget 5000 --seeds 4 $SHAPE \
      --out "$RUNS/$target-regularized-5000"
  done
  gp-opt rediscover Adam --algorithm random --budget 5000 --seeds 2 $SHAPE --out "$RUNS/Adam-random-5000"
}

huge() {   # the issue's budget: RMSProp and Adam at 20,000 candidates per seed, regularized evolution on
  # 4 seeds each, random search and the particle GA on 2 (about 73 CPU-minutes, README.md "At 20,000")
  for target in Adam RMSProp; do
    gp-opt rediscover "$target" --algorithm regularized --budget 20000 --seeds 4 $SHAPE \
      --out "$RUNS/$target-regularized-20000"
    gp-opt rediscover "$target" --algorithm random --budget 20000 --seeds 2 $SHAPE \
      --out "$RUNS/$target-random-20000"
    gp-opt rediscover "$target" --algorithm ga --budget 20000 --seeds 2 $SHAPE \
      --out "$RUNS/$target-ga-20000"
  done
}

adaptive() {   # the representation change: the default grammar plus one op, div_sqrt(x, y) = x/(sqrt|y| + eps)
  # (adaptive.toml), at the issue's budget: local search on 10 seeds of Adam, RMSProp and SGD with
  # momentum; regularized evolution with restarts and random search on 10 seeds of Adam and 5 of the
  # others; plain regularized evolution on 10 seeds of Adam. A seed stops at its first solution (the
  # same rate and candidates to solution; README.md, "The adaptive rows"). Lanes (run side by side on
  # the two cores): local, restarts, evolution, random
  lane=${1:-all}
  for target in Adam RMSProp Momentum; do
    seeds=5; [ "$target" = Adam ] && seeds=10
    run() { gp-opt rediscover "$target" --grammar "$HERE/adaptive.toml" --budget 20000 --stop-when-solved \
              --particles 5 --children 5 "$@"; }
    if [ "$lane" = all ] || [ "$lane" = local ]; then   # 2,000 random candidates per phase
      run --algorithm local --init-factor 400 --seeds 10 --out "$RUNS/adaptive-$target-local-20000"
    fi
    if [ "$lane" = all ] || [ "$lane" = restarts ]; then   # a fresh population every 100 cycles
      run --algorithm regularized --restart-every 100 --init-factor 10 --seeds "$seeds" --out "$RUNS/adaptive-$target-restarts-20000"
    fi
    if { [ "$lane" = all ] || [ "$lane" = evolution ]; } && [ "$target" = Adam ]; then
      run --algorithm regularized --init-factor 10 --seeds "$seeds" --out "$RUNS/adaptive-$target-regularized-20000"
    fi
    if [ "$lane" = all ] || [ "$lane" = random ]; then
      run --algorithm random --init-factor 10 --seeds "$seeds" --out "$RUNS/adaptive-$target-random-20000"
    fi
  done
}

local_default() {   # the control for the grammar: local search in the default grammar, Adam, 2 seeds at
  # 20,000 candidates (README.md, "The adaptive rows")
  gp-opt rediscover Adam --algorithm local --budget 20000 --seeds 2 --stop-when-solved \
    --particles 5 --children 5 --init-factor 400 --out "$RUNS/Adam-local-20000"
}

adaptive_analyse() {   # is each unsolved seed's best one edit from the target? (the adaptive campaigns)
  python "$HERE/one_edit.py" "$RUNS"/adaptive-*-20000 > "$HERE/one_edit.txt"
}

alternatives() {   # other behavioural distances around Adam and RMSProp, 60,000 random genomes, and
  # every genome two edits from each target (is there a way in from the plateau?)
  python "$HERE/alternatives.py" --random 60000 > "$HERE/alternatives.txt"
  python "$HERE/bridge.py" > "$HERE/bridge.txt"
}

analyse() {   # around Adam and RMSProp: their one-edit neighbours, and the way from seed 0's best to them
  for target in "Adam --plateau 0.187" "RMSProp --plateau 0.227"; do
    python "$HERE/landscape.py" $target
  done > "$HERE/landscape.txt"
  { python "$HERE/barrier.py" Adam "$RUNS/Adam-regularized-5000/results/seed-0.json" \
      out.op=div out.in0=v_hat out.in1=h0 h0.op=sqrt_abs h0.in0=s_hat
    python "$HERE/barrier.py" RMSProp "$RUNS/RMSProp-regularized-5000/results/seed-0.json" \
      out.op=div out.in0=g out.in1=h0 h0.op=sqrt_abs h0.in0=s_hat
  } > "$HERE/barrier.txt"
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
  large) large ;;
  huge) huge ;;
  adaptive) adaptive "${2:-all}" ;;
  local_default) local_default ;;
  adaptive_analyse) adaptive_analyse ;;
  analyse) analyse ;;
  alternatives) alternatives ;;
  collect) collect ;;
  all) main; rest; large; huge; adaptive; local_default; adaptive_analyse; analyse; alternatives; collect ;;
esac
