// Cargo runner for wasm32-wasip1 test binaries under Node's WASI (cross-target tests).
// Usage (set by .ci/run): CARGO_TARGET_WASM32_WASIP1_RUNNER="node scripts/wasi-runner.mjs"
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import { argv, env, exit } from "node:process";

const [wasmPath, ...args] = argv.slice(2);
const wasi = new WASI({
  version: "preview1",
  args: [wasmPath, ...args],
  env,
  preopens: { "/": "/" },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance));
