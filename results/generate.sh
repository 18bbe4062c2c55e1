#!/usr/bin/env bash
# Regenerate what the tools make from the published genomes (results/paper/*.json).
set -euo pipefail
cd "$(dirname "$0")"
out=generated
mkdir -p "$out"
gp-opt latex --table Opt1 Opt2 Opt3 Opt4 Opt5 Opt6 Opt7 Opt8 Opt9 Opt10 -o "$out/table8_optimizers.tex"
gp-opt latex --table A1 A2 A3 A4 A5 Adam RMSProp SGD QHM PowerSign-ld AddSign-ld -o "$out/table_baselines.tex"
gp-opt latex --table LR1 LR2 LR3 LR4 LR5 LR6 LR7 LR8 LR9 -o "$out/table_schedules.tex"
: > "$out/equations.txt"
for name in $(gp-opt catalog); do
    gp-opt show "$name" >> "$out/equations.txt"
    echo >> "$out/equations.txt"
done
for name in Opt6 Opt10; do
    gp-opt export "$name" --torch "$out/${name,,}.py"
done
