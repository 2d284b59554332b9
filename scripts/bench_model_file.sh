#!/usr/bin/env bash
# A reusable model (README, "Datasets"): `mdlzip train` on the first half of a log, `compress -M` on
# the other half at several block sizes (the model file is not in the archive), against mdlzip's
# default on that half, against dataset archives that store their own model, and xz -9e.
# Usage: scripts/bench_model_file.sh [WORKDIR]   (corpora: $MDLZIP_CORPORA or ../shared/corpora)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
corpora="${MDLZIP_CORPORA:-$here/../shared/corpora}"
work="${1:-$(mktemp -d)}"
mkdir -p "$work" && cd "$work"
size() { stat -c%s "$1"; }
for log in HDFS_2k Apache_2k; do
  head -n 1000 "$corpora/logs/$log.log" > $log.a
  tail -n +1001 "$corpora/logs/$log.log" > $log.b
  mdlzip train -q -f --records lines -o $log.mdlm $log.a
  row="$log: input $(size $log.b), model file $(size $log.mdlm)"
  mdlzip compress -q -f -o $log.default.mdlz $log.b
  row+=", default $(size $log.default.mdlz)"
  for bs in 0 4k 64k 1G; do
    mdlzip compress -q -f -M $log.mdlm --records lines --block-size $bs -o $log.M$bs.mdlz $log.b
    mdlzip -d -c -M $log.mdlm $log.M$bs.mdlz | cmp - $log.b
    row+=", -M@$bs $(size $log.M$bs.mdlz)"
  done
  for bs in 0 4k; do
    mdlzip compress -q -f --records lines --block-size $bs -o $log.own$bs.mdlz $log.b
    row+=", own@$bs $(size $log.own$bs.mdlz)"
  done
  echo "$row, xz -9e $(xz -9e -c $log.b | wc -c)"
done
