#!/usr/bin/env bash
# Packs a CubeCL kernel cache folder (ptx/ + autotune/) for the next GPU window, with the
# autotune logs' error texts trimmed first (tools/gpu/trim_autotune.py).
#
#   bash tools/gpu/pack_cache.sh CACHE_DIR OUT.tar.xz
set -eu
CACHE=$1
OUT_FILE=$(realpath -m "$2")
python3 "$(dirname "$0")/trim_autotune.py" "$CACHE"/autotune/*/*/*/*.log
(cd "$CACHE" && XZ_OPT="-T0 -6" tar -cJf "$OUT_FILE" .)
