#!/usr/bin/env bash
# One call on a lent GPU machine: install deepsava over the machine's own PyTorch, run the CUDA tests, then
# benchmarks/gpu.py; everything it prints and writes lands in $OUT (gpu.json, gpu.md, cuda-tests.log).
#
# The machine cannot reach a package registry and lacks a few of deepsava's dependencies (PyAV, pydantic);
# fetch their wheels here first (Python 3.12, x86-64) into .whl/, which is git-ignored and travels with the tree:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl \
#       av pydantic pydantic-core annotated-types typing-inspection
# then: device run  `bash benchmarks/device_run.sh`  with carry [".whl"] and a timeout leaving room to rerun.
set -uo pipefail
OUT=${OUT:-runs/device}
mkdir -p "$OUT"
python3 -m pip install -q --no-deps --no-index .whl/*.whl 2>&1 | tail -3
python3 -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | tail -3
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu-card.txt"
python3 -m pytest -q -p no:cacheprovider -m cuda tests/test_cuda.py tests/test_numerics.py 2>&1 | tee "$OUT/cuda-tests.log" | tail -5
timeout 300 python3 benchmarks/gpu.py --out "$OUT" --budget 250 2>&1 | tee "$OUT/gpu.log" | tail -15
timeout 90 python3 benchmarks/profile_attack.py --device cuda --preset paper --batch 8 --size 224 --steps 10 \
    --trace "$OUT/bo-attack-trace.json" 2>&1 | tee "$OUT/profile.log" | tail -30
