#!/usr/bin/env bash
# A second call on the still-warm machine after tools/gpu/window.sh, when device time is
# left (status: budget_left_s): resumes the trunk where the window left it in
# /tmp/cvq-window (its Adam moments are still there), with the kernel caches already on
# disk, and the window's recurrent run beside it when there was one, and brings back the
# trunk, the recurrent run and the caches again. Call it at once: the machine goes
# back after idle_release_s (30 s).
#
#   run(command="bash tools/gpu/more.sh SECONDS", carry=[".gpu"], timeout_s=SECONDS+80)
#
# Then collect.sh takes this call's trunk.tar.xz, rnn.tar and cubecl-cache.tar.xz (copy them
# over the window's files first: the window's logs stay).
set -u
SECS=${1:?training seconds}
R=$PWD
W=/tmp/cvq-window
BIN=/tmp/cvq-train
[ -x "$BIN" ] && [ -f "$W/trunk/checkpoint/state.json" ] || { echo "no window state on this machine (not warm?)"; exit 1; }
. tools/gpu/cuda_root.sh "$OUT/more.log"
RNN_PID=
if [ -f "$W/rnn/checkpoint/state.json" ]; then
  (cd "$W/rnn-wd" && exec timeout $((SECS + 50)) "$BIN" train --resume --out "$W/rnn" --data "$R/.gpu/train.cvqd" \
    --steps 100000000 --stop-after "$SECS" --workers 4) > "$W/rnn2.log" 2>&1 &
  RNN_PID=$!
fi
cd "$W"
timeout $((SECS + 50)) "$BIN" train --resume --out "$W/trunk" --data "$R/.gpu/train.cvqd" --steps 100000000 \
  --stop-after "$SECS" --workers 12 > "$W/trunk2.log" 2>&1
tail -c 400 "$W/trunk2.log" | tr '\r' '\n' | tail -n 3 | tee -a "$OUT/more.log"
XZ_OPT="-T0 -6" tar cJf "$OUT/trunk.tar.xz" --exclude optimizer.mpk --exclude checkpoint.old trunk trunk.log trunk2.log
if [ -n "$RNN_PID" ]; then
  wait "$RNN_PID"
  tail -c 400 "$W/rnn2.log" | tr '\r' '\n' | tail -n 3 | tee -a "$OUT/more.log"
  tar cf "$OUT/rnn.tar" --exclude optimizer.mpk --exclude checkpoint.old rnn rnn.log rnn2.log
fi
bash "$R/tools/gpu/pack_cache.sh" "$W/cubecl-cache" "$OUT/cubecl-cache.tar.xz"
ls -la "$OUT"
