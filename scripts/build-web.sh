#!/usr/bin/env bash
# Builds the npm package cvq-web and installs it into www/ the way a user installs it:
#   1. wasm-pack build web                    → web/pkg         (CPU path: cvq_web.js, cvq_web_bg.wasm, …)
#   2. wasm-pack build web --features webgpu  → web/pkg-webgpu  (WebGPU path)
#   3. node scripts/package-web.mjs: web/pkg becomes the package (webgpu/ build, <cvq-img>,
#      worker, client, README, licences, package.json); `npm pack` → target/npm/cvq-web-VERSION.tgz,
#      its file list checked
#   4. npm install of that tarball into www/node_modules (www/package.json is not changed)
# Arguments go to both cargo builds (CI passes --locked). Needs wasm-pack, wasm-bindgen and
# www's own dependencies (scripts/install-web-tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
t() { local s=$(date +%s); "$@"; echo "  ($(( $(date +%s) - s ))s: $*)"; }

# Cargo profiles (root Cargo.toml): LTO, one codegen unit, stripped; the WebGPU build
# optimised for size. CVQ_WEB_PROFILE=release builds both faster (no LTO) while iterating.
cpu_profile=${CVQ_WEB_PROFILE:-wasm-release-cpu}
gpu_profile=${CVQ_WEB_PROFILE:-wasm-release}
t wasm-pack build web --target web --profile "$cpu_profile" -- "$@"
t wasm-pack build web --target web --out-dir pkg-webgpu --profile "$gpu_profile" -- "$@" --features webgpu
for m in web/pkg/cvq_web_bg.wasm web/pkg-webgpu/cvq_web_bg.wasm; do
    echo "$m: $(wc -c < "$m") bytes, gzip -9: $(gzip -9 -c "$m" | wc -c) bytes"
done
node scripts/package-web.mjs
version=$(node -p 'require("./web/pkg/package.json").version')
t npm install --prefix www --no-save --no-audit --no-fund --silent "$PWD/target/npm/cvq-web-$version.tgz"
node -e 'const p = require("./www/node_modules/cvq-web/package.json"); console.log(`www/node_modules/cvq-web: ${p.name}@${p.version}`)'
