#!/usr/bin/env bash
# Installs the classical codecs that `cvq-bench` compares cvq with (Debian bookworm
# packages): libjpeg-turbo (cjpeg/djpeg), libwebp (cwebp/dwebp), libavif (avifenc/avifdec),
# libjxl (cjxl/djxl) and OpenJPEG (opj_compress/opj_decompress).
# Usage: scripts/install-codecs.sh [--ci]   (--ci: only JPEG and WebP, as .ci/run needs)
set -euo pipefail
packages=(libjpeg-turbo-progs webp libavif-bin libjxl-tools libopenjp2-tools)
tools=(cjpeg cwebp avifenc cjxl opj_compress)
if [[ "${1:-}" == "--ci" ]]; then
    packages=(libjpeg-turbo-progs webp)
    tools=(cjpeg cwebp)
fi
missing=()
for i in "${!packages[@]}"; do
    command -v "${tools[$i]}" >/dev/null 2>&1 || missing+=("${packages[$i]}")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "codecs already installed: ${packages[*]}"
    exit 0
fi
sudo=()
[[ $(id -u) -ne 0 ]] && sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
