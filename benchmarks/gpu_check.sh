#!/bin/sh
# The GPU checks of issue 24 in one call; the options and the steps are in benchmarks/gpu_check.py.
#
# Here (pip and the network; once):   benchmarks/gpu_check.sh --prepare
#     downloads the wheels of the project's pure-Python dependencies for Python 3.12 into .gpu-wheels/
# There (a machine with torch + CUDA): OUT=/some/folder benchmarks/gpu_check.sh
#     with the device tool: run(command="sh benchmarks/gpu_check.sh", carry=[".gpu-wheels"], timeout_s=600)
#     (that machine sets $OUT); --only suite (say) reruns one step after a fix
# Anywhere, no GPU needed:            benchmarks/gpu_check.sh --dry-run --out /tmp/gpu-dry
#     every step on tiny sizes on the CPU; says which steps need CUDA; measures nothing
cd "$(dirname "$0")/.." || exit 2
exec "${PYTHON:-python3}" benchmarks/gpu_check.py "$@"
