#!/usr/bin/env bash
# Historical: the recipe of the shipped cvq-compact-q* models (models/README.md). New GPU
# windows use tools/gpu/window.sh (docs/TRAINING.md "GPU windows").
# One device call (docs/TRAINING.md "GPU runs"): CUDA smoke + Burn steps/s, the PyTorch
# reference's steps/s on the same GPU, then four rate points trained side by side
# (phase 1 at lr 5e-4, phase 2 fine-tuned from it at lr 1e-4), each run packed into
# $OUT/<name>.tar (train.json, metrics.csv, checkpoint/model.mpk + state.json, log).
#
# Needs in the working tree: .gpu/cvq-train.xz (release, --features cuda, stripped, xz), .gpu/train.cvqd
# (`cvq-train prepare --max-side 640 --jpeg-quality 90`). Run from the repository root:
#   run(command="bash tools/gpu/session.sh", carry=[".gpu"], timeout_s=600)
# Budget (seconds from start): speed checks ≤ 150, phase 1 until P1_END, phase 2 until
# P2_END, packing after.
set -u
T0=$(date +%s)
P1_END=${P1_END:-400}
P2_END=${P2_END:-545}
# The binary travels xz-compressed (63 MB stripped → 21 MB: the carry limit is 64 MiB).
BIN=/tmp/cvq-train
python3 -c "import lzma,shutil;shutil.copyfileobj(lzma.open('.gpu/cvq-train.xz'),open('$BIN','wb'))" && chmod +x "$BIN"
DATA=$PWD/.gpu/train.cvqd
CONFIG=$PWD/models/cvq-compact.json
LAMBDAS=${LAMBDAS:-"0.002 0.005 0.012 0.03"}
W=/tmp/cvq-runs
mkdir -p "$W"
log() { echo "[$(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/session.log"; }
left() { echo $(( $1 - ($(date +%s) - T0) )); }

NV=$(python3 -c "import nvidia,os;print(os.path.join(list(nvidia.__path__)[0],'cu13'))")
export CUDA_PATH=$NV LD_LIBRARY_PATH=$NV/lib:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$OUT/session.log"
log "CUDA_PATH=$NV; nvrtc: $(ls $NV/lib | grep -c nvrtc) files; include/cuda.h: $(test -f $NV/include/cuda.h && echo yes || echo no)"

# 1. Burn/CUDA smoke and steps/s (batch 8 x 256², one process alone on the GPU).
log "burn speed run"
timeout -s TERM 100 "$BIN" train --config "$CONFIG" --data "$DATA" --out "$W/speed" \
  --batch-size 8 --crop 256 --steps 80 --log-every 1 --workers 8 --lr 5e-4 \
  --lr-quantizer 2.5e-4 --grad-clip 0 --weight 0.01 > "$W/speed.log" 2>&1
log "burn speed rc=$?: $(tail -c 600 "$W/speed.log" | tr '\r' '\n' | tail -n 3)"
cp "$W/speed/metrics.csv" "$OUT/burn-speed-metrics.csv" 2>/dev/null

# 2. PyTorch reference, same model and batch.
if [ -f tools/torch_reference/cvqn_ref.py ]; then
  log "torch reference"
  timeout 70 python3 tools/torch_reference/cvqn_ref.py --batch 8 --crop 256 --warmup 10 --steps 60 --grad-clip 0 \
    2>&1 | tail -n 5 | tee -a "$OUT/session.log"
fi

# 3. Three rate points side by side.
train_phase() { # phase end_second extra-args...
  local phase=$1 end=$2; shift 2
  local i=0 pids=()
  for lam in $LAMBDAS; do
    i=$((i + 1))
    local out="$W/q$i-$phase" secs
    secs=$(left "$end")
    "$BIN" train --config "$CONFIG" --data "$DATA" --out "$out" --batch-size 8 --crop 256 \
      --steps 1000000 --loss mse --weight "$lam" --quality "$i" --seed "$i" --grad-clip 0 \
      --workers 4 --log-every 20 --checkpoint-secs 60 --stop-after "$secs" "$@" \
      ${INIT:+--init-from "$W/q$i-$INIT"} > "$out.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  for j in $(seq 1 $i); do log "q$j-$phase: $(tail -c 400 "$W/q$j-$phase.log" | tr '\r' '\n' | tail -n 2)"; done
}
log "phase 1 (lr 5e-4) until ${P1_END}s"
INIT= train_phase p1 "$P1_END" --lr 5e-4 --lr-quantizer 2.5e-4
log "phase 2 (lr 1e-4, from phase 1) until ${P2_END}s"
INIT=p1 train_phase p2 "$P2_END" --lr 1e-4 --lr-quantizer 5e-5

# 4. Pack each run (phase 2 if it checkpointed, else phase 1) with its logs.
i=0
for lam in $LAMBDAS; do
  i=$((i + 1))
  for phase in p2 p1; do
    if [ -f "$W/q$i-$phase/checkpoint/model.mpk" ]; then
      (cd "$W" && tar cf "$OUT/q$i-$phase.tar" --exclude optimizer.mpk "q$i-$phase" q$i-*.log \
        $( [ $phase = p2 ] && echo q$i-p1/metrics.csv q$i-p1/train.json ))
      break
    fi
  done
done
ls -la "$OUT" | tee -a "$OUT/session.log"
log "done"
