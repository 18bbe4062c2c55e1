#!/bin/sh
# The commands behind results/digits-2026-12-06 (issue 19's second campaign), in the order they ran
# (2026-12-06, UTC), from /work/runs on the 2-CPU development machine with gp_opt at the commits
# README.md names. Each wrote under runs/ (gitignored for users' runs); the folders under
# results/digits-2026-12-06/runs/ are the copies committed, with the large logs gzipped.
set -e
# 1. the search: regularized evolution with noise-aware selection on the default CPU task (the
#    digits preset, 3 evaluation seeds per fitness), warm-started like the first campaign (10:32-11:37)
gp-opt search --task surrogate --preset digits --dataset digits --algorithm regularized --noise-aware \
    --particles 10 --init-factor 10 --children 5 --steps 14 --init-from Adam,Opt6,Opt10 --seed 1 --plain \
    --out runs/campaign-digits-re-noise
# 2. the funnel (bases 8, 12, 16; 5 seeds) and 20 held-out seeds, with Adam, momentum SGD, Opt6 and Opt10 (11:37-11:50)
gp-opt eliminate runs/campaign-digits-re-noise --rounds 24:8,12:12,6:16 --seeds 5 --holdout 20 \
    --baselines Adam,momentum,Opt6,Opt10
# 3. the transfer suite: every candidate of the funnel's last round and the baselines, one lr grid for all
R=runs/campaign-digits-re-noise/elimination/genomes
gp-opt transfer $R/c19.json $R/c10.json $R/c14.json $R/c24.json $R/c5.json $R/c15.json Adam Momentum Opt6 Opt10 \
    --tasks charlm,digits-mlp,diabetes,breast-cancer --seeds 5 --lrs 10,1,0.1,0.01,0.001,0.0001,0.00001,0.000001 \
    -o runs/campaign-digits-re-noise/transfer
# 4. the report (top 5, with the elimination, hold-out and transfer results)
gp-opt report runs/campaign-digits-re-noise --top 5
# 4b. the finalists' cards with their recommended learning rates (run in results/digits-2026-12-06/)
for c in 19 10 14 24 5 15; do
  gp-opt show genomes/c$c.json --lr-from runs/campaign-digits-re-noise/transfer/results.json > cards/c$c.txt
done
# 5. the search-efficacy table for this task (random search, the particle GA and regularized
#    evolution with noise-aware selection, 3 search seeds each, equal budgets; runs in efficacy/runs/)
python benchmarks/search_efficacy.py --out efficacy --task surrogate --set preset=digits --set dataset=digits \
    --algorithms random,particle,regularized+noise --search-seeds 3 --particles 8 --children 4 --steps 5 \
    --init-factor 5 --checkpoints 40,100,200 --top 5 --round-seeds 3 --holdout 10
