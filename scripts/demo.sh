#!/usr/bin/env bash
# Set up and run the main job: compress the shipped sample, decompress it, check it, show the MDL report.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q torch==2.13.0          # the CPU wheel first: never a CUDA download
python3 -m pip install -q -e .
work=$(mktemp -d)
cp corpora/markov-order2.txt "$work/sample.txt"
mdlzip compress "$work/sample.txt"                      # writes sample.txt.mdlz, prints the MDL report
mdlzip decompress -o "$work/roundtrip.txt" "$work/sample.txt.mdlz"
cmp "$work/sample.txt" "$work/roundtrip.txt" && echo "round trip: identical bytes"
mdlzip info -v "$work/sample.txt.mdlz"
