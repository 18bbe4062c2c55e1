#!/bin/sh
# The commands behind results/digits-2026-12-03, in the order they ran (2026-12-03, UTC), from the
# repository root of a fresh checkout on the 2-CPU development machine. The run directories were
# written under runs/ (gitignored then) and never committed: they are lost (README.md, "What this
# folder holds, and what was lost"). These commands would regenerate them; they have not been
# re-run since 2026-12-03.
set -e
S="gp-opt search --task surrogate --preset digits --dataset digits --children 7 --init-factor 10 --seed 0 --workers 2 --plain"
# 1. warm-started, 10 particles x 10 steps x 7 children, ensembles (06:52-06:58)
$S --particles 10 --steps 10 --init-from Adam,Opt6,Opt10 --batch-children --out runs/campaign-digits-warm
# 2. the same without --batch-children, for the evaluations-per-hour comparison (06:58-07:07)
$S --particles 10 --steps 10 --init-from Adam,Opt6,Opt10 --out runs/campaign-digits-warm-plain
# 3. from random genomes only, 10 x 10 x 7, ensembles (07:07-07:12)
$S --particles 10 --steps 10 --batch-children --out runs/campaign-digits-random
# 4. the main campaign: warm-started, 30 particles x 20 steps x 7 children (07:12-07:40)
$S --particles 30 --steps 20 --batch-children --init-from Adam,Opt6,Opt10 --out runs/campaign-digits-warm30
# 5. elimination (the digits preset's bases 8, 12, 16, 160 steps; 5 seeds; baselines Adam,SGD,Opt6,Opt10);
#    the first two ran at nice 10 while step 4 was running
gp-opt eliminate runs/campaign-digits-warm   --rounds 24:8,12:12,6:16 --seeds 5 --workers 2
gp-opt eliminate runs/campaign-digits-random --rounds 24:8,12:12,6:16 --seeds 5 --workers 2
gp-opt eliminate runs/campaign-digits-warm30 --rounds 50:8,24:12,12:16 --seeds 5 --workers 2
# 6. the finalists: each funnel's last-round winner (and warm30's runner-up of another family)
mkdir -p runs/finalists
cp runs/campaign-digits-warm30/elimination/genomes/c40.json runs/finalists/warm30-1.json
cp runs/campaign-digits-warm30/elimination/genomes/c36.json runs/finalists/warm30-2.json
cp runs/campaign-digits-warm/elimination/genomes/c24.json   runs/finalists/warm10-1.json
cp runs/campaign-digits-random/elimination/genomes/c2.json  runs/finalists/random-1.json
# 7. transfer: the same 8-rate grid and budget for every optimizer
gp-opt transfer runs/finalists/warm30-1.json runs/finalists/warm30-2.json runs/finalists/warm10-1.json \
    runs/finalists/random-1.json Adam Opt6 Opt10 --tasks charlm,digits-mlp,diabetes,breast-cancer --seeds 5 \
    --lrs 10,1,0.1,0.01,0.001,0.0001,0.00001,0.000001 --workers 2 -o runs/campaign-digits-warm30/transfer
# 8. held-out seeds 5-24 at the last round's cost, each at the rate its elimination chose
F=runs/finalists
python results/digits-2026-12-03/confirm.py runs/confirm warm30-1=$F/warm30-1.json@10 \
    warm30-2=$F/warm30-2.json@0.0001 warm10-1=$F/warm10-1.json@10 random-1=$F/random-1.json@10 Adam@0.1 Opt6@10
#    ... and the same check built in, for all twelve finalists of the main funnel (resumes the finished
#    funnel, then writes elimination/holdout.{jsonl,json,md})
gp-opt eliminate runs/campaign-digits-warm30 --rounds 50:8,24:12,12:16 --seeds 5 --workers 2 --holdout 20
# 9. report, equations, the campaign figure
gp-opt report runs/campaign-digits-warm30 --top 5
(cd results/digits-2026-12-03 && gp-opt latex genomes/warm30-1.json genomes/warm30-2.json genomes/warm10-1.json \
    genomes/random-1.json --standalone --simplify 5 --caption "Optimizers found on digits, 2026-12-03 (elimination finalists)" \
    -o equations.tex && pdflatex equations.tex)
python results/digits-2026-12-03/campaigns.py runs/campaign-digits-warm runs/campaign-digits-warm-plain \
    runs/campaign-digits-random runs/campaign-digits-warm30
