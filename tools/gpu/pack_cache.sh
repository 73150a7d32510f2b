#!/usr/bin/env bash
# Packs a CubeCL kernel cache folder (ptx/ + autotune/, and the recurrent run's rnn/ptx/ +
# rnn/autotune/) for the next GPU window, with the autotune logs' error texts trimmed
# first (tools/gpu/trim_autotune.py).
#
#   bash tools/gpu/pack_cache.sh CACHE_DIR OUT.tar.xz
set -eu
CACHE=$1
OUT_FILE=$(realpath -m "$2")
find "$CACHE" -path "*autotune/*" -name "*.log" -print0 | xargs -0 -r python3 "$(dirname "$0")/trim_autotune.py"
(cd "$CACHE" && XZ_OPT="-T0 -6" tar -cJf "$OUT_FILE" .)
