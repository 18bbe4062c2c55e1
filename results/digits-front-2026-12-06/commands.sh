#!/bin/sh
# The commands behind results/digits-front-2026-12-06 (issue 23's committed front), in the order they
# ran (2026-12-06, UTC), from /work/runs on the 2-CPU development machine. They wrote under runs/
# (gitignored for users' runs); results/digits-front-2026-12-06/runs/ holds the committed copy, its
# large logs gzipped.
set -e
# 1. the search: regularized evolution, noise-aware, each tournament won by DEAP's NSGA-II over
#    (fitness up, state buffers per parameter down), on the default CPU task (11:04-11:54)
gp-opt search --task surrogate --preset digits --dataset digits --algorithm regularized --noise-aware \
    --objectives fitness,memory --particles 10 --init-factor 10 --children 5 --steps 10 \
    --init-from Adam,Opt6,Opt10 --seed 2 --plain --out runs/front-digits-re-noise
# 2. the best optimizer at each memory cost: a funnel per buffer count (bases 8 then 16, 3 seeds),
#    then 20 held-out seeds (3-22), against Adam and momentum SGD (11:54-12:01)
for b in 0 1 2; do
  gp-opt eliminate runs/front-digits-re-noise --buffers $b --rounds 6:8,1:16 --seeds 3 --holdout 20 \
      --baselines Adam,momentum
done
# 3. the three winners under names that say their cost, and the transfer suite against Adam and
#    momentum SGD, one lr grid for all (12:05-12:10; a first run at 12:01 named the optimizers by
#    their genome paths, two of them c1.json: it went to another folder and is not committed)
mkdir -p front-genomes
cp runs/front-digits-re-noise/elimination-buffers0/genomes/c3.json front-genomes/buffers0.json
cp runs/front-digits-re-noise/elimination-buffers1/genomes/c1.json front-genomes/buffers1.json
cp runs/front-digits-re-noise/elimination-buffers2/genomes/c1.json front-genomes/buffers2.json
gp-opt transfer front-genomes/buffers0.json front-genomes/buffers1.json front-genomes/buffers2.json Adam Momentum \
    --tasks charlm,digits-mlp,diabetes,breast-cancer --seeds 5 --lrs 10,1,0.1,0.01,0.001,0.0001,0.00001,0.000001 \
    -o runs/front-digits-re-noise/transfer
# 4. the report (the front's table and figure, the top 5, the transfer tables and lr figures) and the cards
gp-opt report runs/front-digits-re-noise --top 5
# (the cards as committed, with the recommended learning rates from the transfer suite, were
#  made in results/digits-front-2026-12-06/ once the folder was assembled:)
mkdir -p cards
for b in 0 1 2; do
  gp-opt show genomes/buffers$b.json --lr-from runs/front-digits-re-noise/transfer/results.json > cards/buffers$b.txt
done
