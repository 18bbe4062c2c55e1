#!/usr/bin/env bash
# Regenerate what the tools make from the published genomes (results/paper/*.json):
# LaTeX tables and equations, standalone optimizer modules, and the figures of Opt1-10 and LR1-9
# (learning-rate schedule, decay functions, U(g), update graph); Table 8 compiled to PDF and PNG
# when pdflatex (and pdftoppm) are installed.
set -euo pipefail
cd "$(dirname "$0")"
out=generated
mkdir -p "$out" "$out/figures"
opts="Opt1 Opt2 Opt3 Opt4 Opt5 Opt6 Opt7 Opt8 Opt9 Opt10"
lrs="LR1 LR2 LR3 LR4 LR5 LR6 LR7 LR8 LR9"
gp-opt latex --table $opts --caption "The optimizers found by the search (the paper's Table 8)." \
    -o "$out/table8_optimizers.tex"
gp-opt latex --table A1 A2 A3 A4 A5 Adam RMSProp SGD QHM PowerSign-ld AddSign-ld \
    --caption "Adam variants and baselines." -o "$out/table_baselines.tex"
gp-opt latex --table --form schedule $lrs --caption "The learned learning-rate schedules." \
    -o "$out/table_schedules.tex"
gp-opt latex --standalone $opts $lrs --caption "Opt1-10 and LR1-9" -o "$out/equations.tex"
: > "$out/equations.txt"
for name in $(gp-opt catalog); do
    gp-opt show "$name" >> "$out/equations.txt"
    echo >> "$out/equations.txt"
done
for name in Opt6 Opt10; do
    gp-opt export "$name" --torch "$out/${name,,}.py"
done

# The figures (the same as 'gp-opt plot NAME --schedule|--decays|--update|--graph', drawn in one
# process: starting the CLI 76 times costs minutes).
python3 - "$out/figures" $opts $lrs <<'EOF'
import sys
from pathlib import Path

import numpy as np

from gp_opt import catalog
from gp_opt import plots as P

out = Path(sys.argv[1])
x = np.linspace(-3, 3, 241)
adam, sgd = catalog.get("Adam"), catalog.get("SGD")
compare_update = {"Adam": P.update_curves(adam, x), "SGD": P.update_curves(sgd, x)}
compare_schedule = [P.schedule_curves(adam, name="Adam")]
for name in sys.argv[2:]:
    g = catalog.get(name)
    P.save(P.schedule_figure(P.schedule_curves(g, name=name), compare_schedule), out / f"{name}_schedule")
    P.save(P.decays_figure(name, P.decay_curves(g)), out / f"{name}_decays")
    P.save(P.update_figure(x, {name: P.update_curves(g, x), **compare_update}), out / f"{name}_update")
    P.save(P.graph_figure(g, name), out / f"{name}_graph")
EOF

# Table 8 as a page: PDF and PNG.
if command -v pdflatex > /dev/null; then
    tmp=$(mktemp -d)
    gp-opt latex --table --standalone $opts --caption "The optimizers found by the search (the paper's Table 8)." \
        -o "$tmp/table8_optimizers.tex"
    (cd "$tmp" && pdflatex -interaction=nonstopmode -halt-on-error table8_optimizers.tex > /dev/null)
    cp "$tmp/table8_optimizers.pdf" "$out/table8_optimizers.pdf"
    if command -v pdftoppm > /dev/null; then
        pdftoppm -png -r 110 -singlefile "$out/table8_optimizers.pdf" "$out/table8_optimizers"
    fi
    rm -rf "$tmp"
else
    echo "pdflatex not found: table8_optimizers.pdf/.png not made" >&2
fi
