#!/usr/bin/env bash
# How many GPU kernels one training step launches, by kernel name: the trainer built
# with burn-wgpu (`--features wgpu`) on any Vulkan driver — on a machine without a GPU,
# Mesa's lavapipe (`apt-get install mesa-vulkan-drivers`) — with CubeCL's profiling log
# at "minimal" (each launched kernel's name, no timing, no synchronisation).
#
#   cargo build --release -p cvq-train --bin cvq-train --features wgpu
#   BIN=target/release/cvq-train bash tools/profile/kernel_count.sh [CONFIG] [BATCH] [CROP]
#
# CONFIG defaults to the trunk's model and loss (models/trunk/train.json), BATCH to 4,
# CROP to 128.
# Three runs of `cvq-train bench` share one autotune cache: the first fills it, the next
# two run S1 and S2 timed steps with every kernel tuned and compiled already, so the
# difference of their logs is (S2 − S1) steps of the steady state. Prints the kernels per
# step, the distinct kernels, and the 25 most launched names (TSV in $OUT/kernels.tsv).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-target/release/cvq-train}
BATCH=${2:-4}
CROP=${3:-128}
S1=${S1:-2}
S2=${S2:-6}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
CONFIG=${1:-$OUT/model.json}
EXTRA=()
if [ -z "${1:-}" ]; then
  # The trunk's model with its loss: bpp rate term, one weight per rate point.
  python3 -c "import json;json.dump(json.load(open('models/trunk/train.json'))['model'],open('$CONFIG','w'))"
  EXTRA=(--rate-term bpp --rate-weights "$(python3 -c "import json;print(','.join(str(w) for w in json.load(open('models/trunk/train.json'))['rate_weights']))")")
fi
CONFIG=$(realpath "$CONFIG")
BIN=$(realpath "$BIN")
DATA=${DATA:-../shared/data/train}
DATA=$(realpath "$DATA")

run() { # name steps
  cat > "$OUT/cubecl.toml" <<TOML
[autotune]
cache = { file = "$OUT/autotune" }

[profiling]
logger = { level = "minimal", file = "$OUT/$1.log", append = false }
TOML
  rm -f "$OUT/$1.log"
  (cd "$OUT" && "$BIN" bench --config "$CONFIG" --data "$DATA" --batch-sizes "$BATCH" \
    --crop "$CROP" --grad-clip 0 --warmup 1 --steps "$2" --phase-steps 0 "${EXTRA[@]}" \
    >"$OUT/$1.out" 2>&1)
}
run warm 2
run short "$S1"
run long "$S2"
python3 - "$OUT" "$S1" "$S2" <<'PY'
import collections, re, sys
out, s1, s2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def counts(name):
    c = collections.Counter()
    for line in open(f"{out}/{name}.log", errors="replace"):
        m = re.search(r"Executing (.*)", line)
        if m:
            c[m.group(1).strip()] += 1
    return c
a, b = counts("short"), counts("long")
per = {k: (b[k] - a[k]) / (s2 - s1) for k in set(a) | set(b)}
per = {k: v for k, v in per.items() if v > 0}
total = sum(per.values())
with open(f"{out}/kernels.tsv", "w") as f:
    for k, v in sorted(per.items(), key=lambda kv: -kv[1]):
        f.write(f"{v:g}\t{k}\n")
print(f"kernels per step: {total:g} ({len(per)} distinct names); logs in {out}")
for k, v in sorted(per.items(), key=lambda kv: -kv[1])[:25]:
    print(f"{v:8g}  {k[:150]}")
PY
