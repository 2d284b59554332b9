#!/usr/bin/env bash
# Set up and run the main job: compress the shipped sample, decompress it, check it, show the MDL report;
# then the seed's pure two-part code of the same sample (trains the transformer: about 2-3 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q torch==2.13.0          # the CPU wheel first: never a CUDA download
python3 -m pip install -q -e .
work=$(mktemp -d)
cp corpora/markov-order2.txt "$work/sample.txt"
mdlzip compress -v "$work/sample.txt"                   # writes sample.txt.mdlz, prints the MDL report
mdlzip decompress -o "$work/roundtrip.txt" "$work/sample.txt.mdlz"
cmp "$work/sample.txt" "$work/roundtrip.txt" && echo "round trip: identical bytes"
mdlzip info -v "$work/sample.txt.mdlz"
mdlzip compress -v --pure --no-fallback -o "$work/pure.mdlz" "$work/sample.txt"   # model bits + data bits
mdlzip decompress -c "$work/pure.mdlz" | cmp - "$work/sample.txt" && echo "pure round trip: identical bytes"
