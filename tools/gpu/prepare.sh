#!/usr/bin/env bash
# Prepares a GPU window here (docs/TRAINING.md "GPU windows"): builds the CUDA trainer,
# packs the training data, and checks that what travels fits the 64 MiB carry.
# Then: run(command="bash tools/gpu/window.sh", carry=[".gpu"], timeout_s=600).
#
#   bash tools/gpu/prepare.sh            # build + pack + size check
#   CHECK_ONLY=1 bash tools/gpu/prepare.sh   # size check of what is already there
#   bash tools/gpu/prepare.sh --restore  # after the call: restore the files left behind
set -euo pipefail
cd "$(dirname "$0")/../.."
LIMIT=$((64 * 1024 * 1024))
mkdir -p .gpu
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude

if [ "${CHECK_ONLY:-0}" != 1 ] && [ "${1:-}" != --restore ]; then
  # The plain release profile (2026-11-30: 5.5 min here on 2 cores when the CUDA
  # dependencies are already built, 12.8 min when only the CPU build's are; 56 MB
  # stripped, 12.5 MB with xz -9e; 2026-11-28: 74 MB and 29.7 MB). The CPU binary is
  # kept aside first: collect.sh evaluates with it afterwards.
  cargo build --release --locked -p cvq-train --bin cvq-train && cp target/release/cvq-train /tmp/cvq-train-cpu
  cargo build --release --locked -p cvq-train --features cuda --bin cvq-train
  strip -o /tmp/cvq-train-cuda target/release/cvq-train
  xz -T2 -9e -c /tmp/cvq-train-cuda > .gpu/cvq-train.xz
  cp /tmp/cvq-train-cpu target/release/cvq-train
  if [ ! -f .gpu/train.cvqd ]; then
    # 207 photos, long side ≤ 512, JPEG q88: 17.8 MB.
    target/release/cvq-train prepare --data ../shared/data/train --max-side 512 --jpeg-quality 88 -o .gpu/train.cvqd
  fi
  # NVRTC needs CUDA's crt/ headers for tensor-core kernels; PyTorch's wheels on the GPU
  # machine lack them (tools/gpu/cuda_root.sh). 134 KB.
  if ! ls .gpu/nvidia_cuda_crt-*.whl > /dev/null 2>&1; then
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .gpu "nvidia-cuda-crt==13.0.*"
  fi
fi

# The window needs little of the repository: its scripts, the trunk, the recurrent model it
# continues and the photo it decodes. Every other tracked file (sources, other models, the
# web gallery, fixtures, vendor/: the binary is built here) is removed from the working
# tree for the call and restored from git afterwards with
# `bash tools/gpu/prepare.sh --restore`.
# Every .gitignore stays: without them, ignored build output (target/, node_modules/)
# would count as untracked files and travel.
KEEP='^(models/trunk/|models/cvq-rnn\.(json|cvqm)$|tools/gpu/|tools/torch_reference/|examples/balloons\.png$)|(^|/)\.gitignore$'
if [ "${1:-}" = --restore ]; then
  # Only files missing from the working tree: local edits elsewhere stay.
  git ls-files -d -z | xargs -0 -r git checkout -- && echo restored
  exit 0
fi
aside=$(git ls-files | grep -Ev "$KEEP" || true)
if [ -n "$aside" ]; then
  if git diff HEAD --name-only | grep -Evq "$KEEP"; then
    echo "uncommitted changes in files the window leaves behind; commit them first" >&2
    exit 1
  fi
  echo "$aside" | tr '\n' '\0' | xargs -0 rm -f
  echo "left behind for the call (restore: bash tools/gpu/prepare.sh --restore): $(echo "$aside" | wc -l) files"
fi

# What travels: tracked files + untracked files git does not ignore + the carried .gpu.
tree=$(git ls-files -co --exclude-standard -z | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {printf "%d", s}' || true)
gpu=$(find .gpu -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
total=$((tree + gpu))
printf 'working tree %.1f MiB + .gpu %.1f MiB = %.1f MiB (limit 64 MiB)\n' \
  "$(echo "$tree / 1048576" | bc -l)" "$(echo "$gpu / 1048576" | bc -l)" "$(echo "$total / 1048576" | bc -l)"
ls -la .gpu
if [ "$total" -gt "$LIMIT" ]; then
  echo "too large to carry: remove or shrink something first" >&2
  exit 1
fi
[ -L .gpu/train.cvqd ] && { echo ".gpu/train.cvqd is a link: links travel as links; copy the file" >&2; exit 1; }
ls .gpu/nvidia_cuda_crt-*.whl > /dev/null 2>&1 || { echo "missing .gpu/nvidia_cuda_crt-*.whl" >&2; exit 1; }
for f in .gpu/cvq-train.xz .gpu/train.cvqd models/cvq-rnn.json models/cvq-rnn.cvqm models/trunk/train.json models/trunk/checkpoint/model.mpk models/trunk/checkpoint/state.json; do
  [ -f "$f" ] || { echo "missing $f" >&2; exit 1; }
done
echo "ready: run(command=\"bash tools/gpu/window.sh\", carry=[\".gpu\"], timeout_s=600)"
