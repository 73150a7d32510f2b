#!/usr/bin/env bash
# After a GPU window (docs/TRAINING.md "GPU windows"): takes the files it brought back
# and turns them into the repository's trunk, kernel cache, models and evaluations.
#
#   bash tools/gpu/collect.sh FILES_AT [KODAK_DIR]
#
# FILES_AT is the folder the device tool put the window's $OUT files in. Replaces
# models/trunk/ (weights, state, metrics, train.json; never optimizer state) and
# tools/gpu/cubecl-cache.tar.xz; exports models/cvq-vr.cvqm (+ .cvqd) and, when the
# window fine-tuned one, models/cvq-vr-ssim.cvqm; evaluates them on Kodak at every
# quality into models/eval/; keeps the window's logs in docs/gpu-windows/DATE/. The
# recurrent run (rnn.tar) becomes a candidate, target/gpu-rnn/cvq-rnn.cvqm, evaluated on
# Kodak at every iteration count beside the shipped models/cvq-rnn.cvqm; shipping it
# (copying it over the shipped file) is the session's decision.
set -euo pipefail
cd "$(dirname "$0")/../.."
IN=${1:?folder of the window files}
KODAK=${2:-../shared/data/kodak}
BIN=${BIN:-target/release/cvq-train}
[ -x "$BIN" ] || cargo build --release --locked -p cvq-train --bin cvq-train
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# trunk.tar.xz from windows since 2026-12-01; trunk.tar from earlier ones.
TRUNK_TAR=$(ls "$IN/trunk.tar.xz" "$IN/trunk.tar" 2>/dev/null | head -n 1)
if [ -n "$TRUNK_TAR" ]; then
  tar -xf "$TRUNK_TAR" -C "$T"
  rm -rf models/trunk.new && mkdir -p models/trunk.new/checkpoint
  cp "$T/trunk/train.json" "$T/trunk/metrics.csv" models/trunk.new/
  cp "$T/trunk/checkpoint/model.mpk" "$T/trunk/checkpoint/state.json" models/trunk.new/checkpoint/
  rm -rf models/trunk && mv models/trunk.new models/trunk
  echo "trunk: step $(python3 -c "import json;print(json.load(open('models/trunk/checkpoint/state.json'))['step'])")"
  "$BIN" export --run models/trunk --quality 3 -o models/cvq-vr.cvqm
  "$BIN" decoder-only models/cvq-vr.cvqm -o models/cvq-vr.cvqd
  "$BIN" eval --model models/cvq-vr.cvqm --data "$KODAK" -o models/eval/cvq-vr
  "$BIN" plot --run models/trunk -o models/eval/cvq-vr-curves.svg || echo "plot skipped"
fi
if [ -f "$IN/ssim.tar" ]; then
  tar -xf "$IN/ssim.tar" -C "$T"
  "$BIN" export --run "$T/ssim" --quality 3 -o models/cvq-vr-ssim.cvqm
  "$BIN" eval --model models/cvq-vr-ssim.cvqm --data "$KODAK" -o models/eval/cvq-vr-ssim
fi
if [ -f "$IN/rnn.tar" ]; then
  R=target/gpu-rnn
  rm -rf "$R" && mkdir -p "$R/eval"
  tar -xf "$IN/rnn.tar" -C "$R"
  echo "recurrent run: step $(python3 -c "import json;print(json.load(open('$R/rnn/checkpoint/state.json'))['step'])")"
  "$BIN" export --run "$R/rnn" -o "$R/cvq-rnn.cvqm"
  "$BIN" eval --model "$R/cvq-rnn.cvqm" --data "$KODAK" -o "$R/eval/candidate" > /dev/null
  "$BIN" eval --model models/cvq-rnn.cvqm --data "$KODAK" -o "$R/eval/shipped" > /dev/null
  python3 - "$R/eval" <<'EOF'
import json, pathlib, sys
d = pathlib.Path(sys.argv[1])
print("iterations | shipped bpp / PSNR / MS-SSIM | candidate bpp / PSNR / MS-SSIM")
for t in range(1, 65):
    f = [d / f"{w}-q{t}.json" for w in ("shipped", "candidate")]
    if not all(p.exists() for p in f):
        break
    m = [json.load(open(p))["mean"] for p in f]
    print(f"{t} | " + " | ".join(f"{r['bpp']:.4f} / {r['psnr']:.2f} / {r['ms_ssim'] or 0:.4f}" for r in m))
EOF
  echo "candidate: $R/cvq-rnn.cvqm; if it is better, cp it over models/cvq-rnn.cvqm, then cvq-bench (models/README.md)"
fi
if [ -f "$IN/cubecl-cache.tar.xz" ]; then
  cp "$IN/cubecl-cache.tar.xz" tools/gpu/cubecl-cache.tar.xz
  echo "kernel cache: $(du -h tools/gpu/cubecl-cache.tar.xz | cut -f1)"
fi
D=docs/gpu-windows/$(date -u +%Y-%m-%d-%H%M)
mkdir -p "$D"
for f in window.log bench.json torch.jsonl dmon.txt more.log; do
  [ -f "$IN/$f" ] && cp "$IN/$f" "$D/"
done
if [ -f "${R:-}/rnn/metrics.csv" ]; then
  cp "$R/rnn/metrics.csv" "$D/rnn-metrics.csv"
  # rnn2.log: the recurrent run's part of a more.sh call, when there was one.
  for f in rnn.log rnn2.log; do [ -f "$R/$f" ] && cp "$R/$f" "$D/"; done
fi
echo "window logs in $D; next: cvq-bench, models/README.md, README tables, web fixtures (docs/TRAINING.md)"
