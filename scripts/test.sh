#!/usr/bin/env bash
# Set up and run the test suite (CPU; about 5 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q torch==2.13.0          # the CPU wheel first: never a CUDA download
python3 -m pip install -q -e '.[test]'
python3 -m pytest -q
