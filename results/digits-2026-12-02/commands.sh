#!/bin/sh
# The commands behind results/digits-2026-12-02, in the order they ran (2026-12-02, UTC), from the
# repository root on the shared 2-CPU development machine.
set -e
# 1. the search, warm-started (16:09); stopped with SIGTERM at 16:49 after time step 1
gp-opt search --task surrogate --preset digits --dataset digits --particles 10 --steps 10 --children 7 \
    --init-factor 10 --init-from Adam,Opt6,Opt10 --seed 0 --out runs/campaign-digits-warm
#    resumed 16:57, stopped with SIGTERM at 17:10 (step 2's children done, some redraws not)
gp-opt resume runs/campaign-digits-warm
# 2. elimination: top 5 at base 8, top 2 at base 12, 3 seeds, baselines Adam,SGD,Opt6,Opt10
gp-opt eliminate runs/campaign-digits-warm --rounds 5:8,2:12 --seeds 3
# 3. the finalists' genomes: the search's unique best three (by key) -> runs/top/found{1,2,3}.json
#    (found1 = elimination #1 = seq 169, found2 = #2 = seq 114, found3 = #5 = seq 224)
# 4. transfer, one process per task, then the four results.json merged into transfer/results.json
for t in digits-mlp charlm diabetes breast-cancer; do
    gp-opt transfer runs/top/found2.json runs/top/found3.json runs/top/found1.json Adam Opt6 Opt10 \
        --tasks $t --seeds 3 -o runs/transferF-$t &
done
wait
# 5. equations and the report
gp-opt latex runs/top/found2.json runs/top/found3.json runs/top/found1.json --standalone -o equations.tex
gp-opt report runs/campaign-digits-warm --top 5
