#!/usr/bin/env bash
# One GPU window (docs/TRAINING.md "GPU windows"): measure, then train the trunk, then
# bring everything back. Run from the repository root on the device machine:
#
#   run(command="bash tools/gpu/window.sh", carry=[".gpu"], timeout_s=600)
#
# Needs in .gpu/ (made here by tools/gpu/prepare.sh, ignored by git):
#   cvq-train.xz     the CUDA release binary (stripped, xz)
#   train.cvqd       the training data pack
# and in the repository: models/trunk/ (the run to continue: train.json,
# checkpoint/{model.mpk,state.json}, metrics.csv) and, when an earlier window made one,
# tools/gpu/cubecl-cache.tar.xz (compiled kernels and autotune results).
#
# Budget (seconds from the start of the command, env overrides):
#   BENCH_END  end of the measurements (Burn at several batch sizes, then PyTorch)
#   TRAIN_END  end of training (a checkpoint is written when --stop-after expires)
#   SSIM_FROM  when the MS-SSIM fine-tune branches off the MSE trunk (0, the default: no
#              fine-tune; worth it once the trunk is strong, not from a young trunk)
#   DECODE_END end of the native decode timing; the kernel cache is packed after it
#   RNN        1 (default): the recurrent family (issue #15) trains beside the trunk, on
#              the same GPU for the same seconds, from RNN_FROM (default
#              models/cvq-rnn.cvqm, the shipped model: f16 weights, fresh Adam moments)
#              with RNN_CONFIG (models/cvq-rnn.json), batch RNN_BATCH × RNN_CROP² (16 ×
#              256²), lr RNN_LR (5e-5), plus RNN_SSIM·(1 − MS-SSIM) in the loss
#              (RNN_SSIM, default 1: the shipped model's recipe; 0: the L1 alone); RNN=0: the
#              trunk alone
# A cold machine spends ~160 s compiling and tuning kernels before the first step (first
# GPU run), so BENCH_END leaves the first Burn bench time for that; the trunk then starts
# on the compiled, tuned kernels of the same batch size.
# Everything lands in $OUT (≤ 8 files): window.log (with the decode timings), bench.json,
# torch.jsonl, dmon.txt, trunk.tar.xz (weights, state, metrics; no optimizer state),
# rnn.tar (the recurrent run, f32 weights, no optimizer state), ssim.tar,
# cubecl-cache.tar.xz.
#
# CPU dry run here (no GPU; tiny budgets; checks the plumbing):
#   DRY=1 OUT=/tmp/out BIN=target/release/cvq-train bash tools/gpu/window.sh
set -u
T0=$(date +%s)
BENCH_END=${BENCH_END:-210}
TRAIN_END=${TRAIN_END:-530}
SSIM_FROM=${SSIM_FROM:-0}
DECODE_END=${DECODE_END:-570}
# Burn's batch sizes: the trunk's first (its kernels are then compiled and tuned before
# the trunk resumes), larger next. PyTorch (fast to start) at every size.
BATCHES=${BATCHES:-"16 32 8"}
TORCH_BATCHES=${TORCH_BATCHES:-"8 16 32 64"}
CROP=${CROP:-256}
DRY=${DRY:-0}
RNN=${RNN:-1}
RNN_FROM=${RNN_FROM:-models/cvq-rnn.cvqm}
RNN_CONFIG=${RNN_CONFIG:-models/cvq-rnn.json}
RNN_BATCH=${RNN_BATCH:-16}
RNN_CROP=${RNN_CROP:-256}
RNN_LR=${RNN_LR:-5e-5}
RNN_SSIM=${RNN_SSIM:-1}
OUT=${OUT:?set OUT}
W=${W:-/tmp/cvq-window}
mkdir -p "$OUT" "$W"
log() { echo "[$(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/window.log"; }
left() { echo $(( $1 - ($(date +%s) - T0) )); }

# 0. What travelled: everything here counts against the 64 MiB carry.
log "carried: $(du -sh --apparent-size .gpu 2>/dev/null | cut -f1) in .gpu, $(du -sh --apparent-size models 2>/dev/null | cut -f1) in models/"
ls -la .gpu models/trunk models/trunk/checkpoint 2>&1 | tee -a "$OUT/window.log" >/dev/null

# 1. The binary and the CUDA runtime (PyTorch's wheels carry libnvrtc and cuda.h).
if [ "$DRY" = 1 ]; then
  BIN=$(realpath "${BIN:-target/release/cvq-train}")
  CROP=${CROP_DRY:-64}
  BATCHES=${BATCHES_DRY:-"2"}
  RNN_BATCH=${RNN_BATCH_DRY:-1}
  RNN_CROP=${RNN_CROP_DRY:-64}
  RNN_SSIM=${RNN_SSIM_DRY:-0}   # MS-SSIM needs crops ≥ 176
else
  BIN=/tmp/cvq-train
  python3 -c "import lzma,shutil;shutil.copyfileobj(lzma.open('.gpu/cvq-train.xz'),open('$BIN','wb'))" && chmod +x "$BIN"
  . tools/gpu/cuda_root.sh "$OUT/window.log"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv,noheader | tee -a "$OUT/window.log"
fi
"$BIN" --version | tee -a "$OUT/window.log"

# 2. Kernel caches: compiled PTX and autotune results persist between windows.
CACHE=$W/cubecl-cache
mkdir -p "$CACHE"
if [ -f tools/gpu/cubecl-cache.tar.xz ]; then
  tar -xJf tools/gpu/cubecl-cache.tar.xz -C "$CACHE" && log "kernel cache restored: $(du -sh "$CACHE" | cut -f1)"
else
  log "no kernel cache yet (cold start)"
fi
# CubeCL reads cubecl.toml from the working directory (or a parent): every run below
# starts in $W, except the recurrent run (step 4), a second process at the same time with
# its own caches (CubeCL's are files that one process appends to) read from $W/rnn-wd.
cubecl_toml() { # DIR CACHE_DIR
  mkdir -p "$1" "$2/ptx" "$2/autotune"
  printf '[compilation]\ncache = { file = "%s/ptx" }\n\n[autotune]\ncache = { file = "%s/autotune" }\n' "$2" "$2" > "$1/cubecl.toml"
}
cubecl_toml "$W" "$CACHE"
cubecl_toml "$W/rnn-wd" "$CACHE/rnn"
DATA=$PWD/.gpu/train.cvqd
REPO=$PWD
TRUNK=$W/trunk
rm -rf "$TRUNK" && cp -r models/trunk "$TRUNK"
CONFIG=$TRUNK/model.json
python3 -c "import json;json.dump(json.load(open('$TRUNK/train.json'))['model'],open('$CONFIG','w'))"
RATE_WEIGHTS=$(python3 -c "import json;print(','.join(str(w) for w in json.load(open('$TRUNK/train.json'))['rate_weights']))")

# GPU load, one line a second, for the whole window.
if [ "$DRY" != 1 ]; then
  nvidia-smi dmon -s uc -o T > "$OUT/dmon.txt" 2>&1 &
  DMON=$!
fi

# 3. Measure: Burn/CUDA at each batch size (one process, alone), then PyTorch.
cd "$W"
for b in $BATCHES; do
  s=$(left "$BENCH_END"); [ "$s" -gt 20 ] || { log "bench: no time left for batch $b"; break; }
  log "burn bench batch $b (≤ ${s}s)"
  timeout "$s" "$BIN" bench --config "$CONFIG" --rate-weights "$RATE_WEIGHTS" --data "$DATA" \
    --batch-sizes "$b" --crop "$CROP" --warmup 3 --steps 10 --phase-steps 3 --workers 8 \
    --lr 1e-4 --lr-quantizer 5e-5 --grad-clip 0 --json "$W/bench-$b.json" 2>&1 | tail -n 3 | tee -a "$OUT/window.log"
done
log "autotune candidates that failed to compile: $(cat "$CACHE"/autotune/*/*/*/*.log 2>/dev/null | grep -o 'Compilation Error' | wc -l)"
python3 - "$OUT/bench.json" "$W"/bench-*.json <<'EOF'
import json, sys
rows = []
for p in sys.argv[2:]:
    try:
        d = json.load(open(p)); rows += d["rows"]; meta = {k: d[k] for k in ("backend", "model", "crop")}
    except Exception as e:
        print(f"{p}: {e}")
json.dump({"rows": sorted(rows, key=lambda r: r["batch"]), **(meta if rows else {})}, open(sys.argv[1], "w"), indent=1)
EOF
if [ "$DRY" != 1 ] && [ -f "$REPO/tools/torch_reference/cvqn_ref.py" ]; then
  # The trunk's train.json: the same model, loss (bpp rate term, its rate weights) and
  # optimizer settings as ours; eager first, then torch.compile at the trunk's batch.
  for b in $TORCH_BATCHES compile; do
    s=$(left $((BENCH_END + 75))); [ "$s" -gt 10 ] || break
    extra=(--batch "$b")
    [ "$b" = compile ] && extra=(--compile)
    log "torch reference ${extra[*]}"
    timeout "$s" python3 "$REPO/tools/torch_reference/cvqn_ref.py" --train-json "$TRUNK/train.json" "${extra[@]}" \
      --crop "$CROP" --warmup 10 --steps 30 2>&1 | tail -n 1 | tee -a "$OUT/torch.jsonl"
  done
fi

# 4. Train the trunk until TRAIN_END (or SSIM_FROM when the MS-SSIM fine-tune follows),
#    and the recurrent family beside it for the same seconds: a second process on the
#    same GPU (its first kernels compile on the CPU while the trunk trains).
end=$TRAIN_END
[ "$SSIM_FROM" -gt 0 ] && end=$SSIM_FROM
s=$(left "$end")
RNN_PID=
if [ "$RNN" = 1 ] && [ -f "$REPO/$RNN_FROM" ] && [ -f "$REPO/$RNN_CONFIG" ] && [ "$s" -gt 20 ]; then
  # A new seed each window: new crops, not the last window's again.
  rnn_seed=$(( T0 % 100000 ))
  rnn_loss=()
  if [ "$RNN_SSIM" != 0 ]; then rnn_loss=(--loss ms-ssim --weight "$RNN_SSIM"); fi
  log "recurrent run beside the trunk for ${s}s from $RNN_FROM ($RNN_CONFIG, batch $RNN_BATCH × ${RNN_CROP}², lr $RNN_LR, MS-SSIM weight $RNN_SSIM, seed $rnn_seed)"
  (cd "$W/rnn-wd" && exec timeout $((s + 60)) "$BIN" train --out "$W/rnn" --init-from "$REPO/$RNN_FROM" --config "$REPO/$RNN_CONFIG" \
    --data "$DATA" --batch-size "$RNN_BATCH" --crop "$RNN_CROP" --lr "$RNN_LR" --grad-clip 0.5 \
    --binarizer deterministic "${rnn_loss[@]}" --seed "$rnn_seed" --steps 100000000 --stop-after "$s" \
    --log-every 20 --checkpoint-secs 60 --workers 4) > "$W/rnn.log" 2>&1 &
  RNN_PID=$!
fi
log "train trunk for ${s}s from step $(python3 -c "import json;print(json.load(open('$TRUNK/checkpoint/state.json'))['step'])")"
"$BIN" train --resume --out "$TRUNK" --data "$DATA" --steps 100000000 --stop-after "$s" --workers 12 > "$W/trunk.log" 2>&1
log "trunk: $(tail -c 300 "$W/trunk.log" | tr '\r' '\n' | tail -n 2)"
# xz, so that a wider trunk (16.55 MB of f32 weights, docs/TRAINING.md "How far a layout
# can go") would also come back in one file under 16 MiB (15.3 MB in the CPU dry run).
(cd "$W" && XZ_OPT="-T0 -6" tar cJf "$OUT/trunk.tar.xz" --exclude optimizer.mpk --exclude checkpoint.old trunk trunk.log)
log "trunk.tar.xz: $(stat -c %s "$OUT/trunk.tar.xz") bytes (limit 16777216)"
if [ -n "$RNN_PID" ]; then
  wait "$RNN_PID"
  log "recurrent run: exit $?, $(tail -c 300 "$W/rnn.log" | tr '\r' '\n' | tail -n 2)"
  (cd "$W" && tar cf "$OUT/rnn.tar" --exclude optimizer.mpk --exclude checkpoint.old rnn rnn.log)
fi

# 5. MS-SSIM model: fine-tuned from the MSE trunk (fresh optimizer), not kept as a trunk.
if [ "$SSIM_FROM" -gt 0 ]; then
  s=$(left "$TRAIN_END")
  if [ "$s" -gt 20 ]; then
    log "ms-ssim fine-tune for ${s}s"
    # CompressAI's MS-SSIM λ range (with a bpp rate term), five points from 2.4 to 115.
    SSIM_WEIGHTS=${SSIM_WEIGHTS:-"2.4,6.3,16.6,43.7,115"}
    # Its own model name, so its files say what they are next to the MSE model's.
    python3 -c "import json;c=json.load(open('$CONFIG'));c['name']+='-ssim';json.dump(c,open('$W/model-ssim.json','w'))"
    "$BIN" train --out "$W/ssim" --init-from "$TRUNK" --config "$W/model-ssim.json" --data "$DATA" \
      --loss ms-ssim --rate-term bpp --rate-weights "$SSIM_WEIGHTS" --batch-size "$(python3 -c "import json;print(json.load(open('$TRUNK/train.json'))['batch_size'])")" \
      --crop "$(python3 -c "import json;print(json.load(open('$TRUNK/train.json'))['crop'])")" --steps 100000000 --stop-after "$s" --lr 5e-5 --lr-quantizer 2.5e-5 --grad-clip 0 \
      --log-every 20 --checkpoint-secs 60 --workers 8 > "$W/ssim.log" 2>&1
    log "ssim: $(tail -c 300 "$W/ssim.log" | tr '\r' '\n' | tail -n 2)"
    (cd "$W" && tar cf "$OUT/ssim.tar" --exclude optimizer.mpk --exclude checkpoint.old ssim ssim.log)
  fi
fi

# 6. Native decode speed on the GPU (the nearest figure to the browser's WebGPU path):
#    a 768×512 photo with the trunk's export (and the default model if it travelled).
cd "$REPO"
if [ -f examples/balloons.png ] && [ "$(left "$DECODE_END")" -gt 15 ]; then
  "$BIN" export --run "$TRUNK" --quality 3 -o "$W/trunk.cvqm" > /dev/null 2>&1
  for m in "$W/trunk.cvqm" "$REPO/models/cvq-compact-q3.cvqm"; do
    s=$(left "$DECODE_END"); [ "$s" -gt 5 ] || break
    [ -f "$m" ] && log "decode speed: $(cd "$W" && timeout "$s" "$BIN" speed --model "$m" "$REPO/examples/balloons.png" --runs 5 2>&1 | tr '\n' ' ')"
  done
fi

# 7. Caches back, so the next window starts warm.
[ -n "${DMON:-}" ] && kill "$DMON" 2>/dev/null
bash "$REPO/tools/gpu/pack_cache.sh" "$CACHE" "$OUT/cubecl-cache.tar.xz" && log "kernel cache: $(du -sh "$OUT/cubecl-cache.tar.xz" | cut -f1)"
ls -la "$OUT" | tee -a "$OUT/window.log"
log "done"
