#!/usr/bin/env bash
# Installs what the web build and its browser tests need, skipping what is present:
#   apt: chromium (headless tests; wasm-opt is off in web/Cargo.toml, so no binaryen)
#   cargo: wasm-bindgen-cli at exactly Cargo.lock's wasm-bindgen version, wasm-pack
#   npm: playwright-core for www/ (npm ci; drives /usr/bin/chromium, downloads no browser)
# Prints how long each part took.
set -euo pipefail
cd "$(dirname "$0")/.."
t() { local s=$(date +%s); "$@"; echo "  ($(( $(date +%s) - s ))s: $*)"; }

missing=()
command -v chromium >/dev/null || missing+=(chromium)
if ((${#missing[@]})); then
    t apt-get update -qq
    t env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Both tools are built at opt-level 1 without LTO: 146 s + 188 s here instead of
# 366 s + 337 s, and wasm-bindgen then processes our modules just as fast, to identical
# output (checked on cvq_web_bg.wasm).
quick_install() {
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false \
        CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 t cargo install -q "$@"
}

# wasm-pack uses the wasm-bindgen on PATH only when its version equals Cargo.lock's.
wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wbg" ]]; then
    # --locked fails for this crate's own lock file; the version pin is exact.
    quick_install wasm-bindgen-cli --version "=$wbg"
fi
command -v wasm-pack >/dev/null || quick_install wasm-pack --locked

t npm ci --prefix www --no-audit --no-fund --silent
