#!/usr/bin/env bash
# Every GPU check in one run (about 3-6 minutes on one H200); extra arguments go to gpu_check.py.
# Writes benchmarks/results/gpu.md and .json, and copies them into $OUT when that folder exists.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec timeout 540 "${PYTHON:-python}" benchmarks/gpu_check.py "$@"
