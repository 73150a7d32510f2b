// Makes web/pkg (wasm-pack's CPU build of the `cvq-web` crate) the npm package cvq-web:
//   + webgpu/             the WebGPU build (web/pkg-webgpu, `--features webgpu`)
//   + cvq-img.js, cvq-client.js, cvq-worker.js   the <cvq-img> element, its client and
//                         worker (sources in web/js/)
//   + README.md           web/js/README.md (import use and <cvq-img>)
//   + LICENSE-MIT, LICENSE-APACHE
//   + package.json        name, version, description, license, files, exports, types
// then runs `npm pack` into target/npm/ and checks the tarball: exactly the expected files,
// the package.json fields. Prints the tarball's path, size and file list; exits 1 on any
// mismatch.
//   node scripts/package-web.mjs        (after both wasm-pack builds; scripts/build-web.sh)
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const pkg = join(root, "web/pkg");
const gpu = join(root, "web/pkg-webgpu");
const NAME = "cvq-web";
const BUILD = ["cvq_web.js", "cvq_web_bg.wasm", "cvq_web.d.ts", "cvq_web_bg.wasm.d.ts"];
const ELEMENT = ["cvq-img.js", "cvq-client.js", "cvq-worker.js"];
const LICENSES = ["LICENSE-MIT", "LICENSE-APACHE"];

function fail(message) {
  console.error(`package-web: ${message}`);
  process.exit(1);
}

for (const [dir, how] of [[pkg, "wasm-pack build web --target web"],
  [gpu, "wasm-pack build web --target web --out-dir pkg-webgpu -- --features webgpu"]]) {
  for (const f of BUILD) {
    if (!existsSync(join(dir, f))) fail(`${join(dir, f)} is missing: run \`${how}\` first`);
  }
}
const built = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8"));
if (built.name !== NAME) fail(`web/pkg/package.json names ${built.name}, expected ${NAME}`);

mkdirSync(join(pkg, "webgpu"), { recursive: true });
for (const f of BUILD) copyFileSync(join(gpu, f), join(pkg, "webgpu", f));
for (const f of ELEMENT) copyFileSync(join(root, "web/js", f), join(pkg, f));
copyFileSync(join(root, "web/js/README.md"), join(pkg, "README.md"));
for (const f of LICENSES) copyFileSync(join(root, f), join(pkg, f));

const types = (f) => ({ types: `./${f.replace(/\.js$/, ".d.ts")}`, default: `./${f}` });
const manifest = {
  name: NAME,
  version: built.version,
  description: built.description,
  license: built.license,
  type: "module",
  main: "cvq_web.js",
  types: "cvq_web.d.ts",
  exports: {
    ".": types("cvq_web.js"),
    "./webgpu": types("webgpu/cvq_web.js"),
    "./cvq_web_bg.wasm": "./cvq_web_bg.wasm",
    "./webgpu/cvq_web_bg.wasm": "./webgpu/cvq_web_bg.wasm",
    ...Object.fromEntries(ELEMENT.map((f) => [`./${f}`, `./${f}`])),
    "./package.json": "./package.json",
  },
  files: [...BUILD, ...BUILD.map((f) => `webgpu/${f}`), ...ELEMENT, ...LICENSES],
  // cvq-img.js defines the custom element when imported
  sideEffects: ["./cvq-img.js"],
  keywords: ["image", "codec", "image-compression", "webassembly", "webgpu", "custom-element"],
};
for (const field of ["version", "description", "license"]) {
  if (!manifest[field]) fail(`web/pkg/package.json has no ${field} (set it in web/Cargo.toml)`);
}
writeFileSync(join(pkg, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);

const dest = join(root, "target/npm");
mkdirSync(dest, { recursive: true });
const [packed] = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", dest],
  { cwd: pkg, encoding: "utf8" }));
const got = packed.files.map((f) => f.path).sort();
const want = [...manifest.files, "package.json", "README.md"].sort();
const missing = want.filter((f) => !got.includes(f));
const extra = got.filter((f) => !want.includes(f));
if (missing.length || extra.length) {
  fail(`tarball files differ: missing ${JSON.stringify(missing)}, unexpected ${JSON.stringify(extra)}`);
}
if (packed.name !== NAME || packed.version !== manifest.version) {
  fail(`tarball is ${packed.name}@${packed.version}`);
}
const tarball = join(dest, packed.filename);
const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;
console.log(`${tarball}: ${packed.size} bytes (${mb(packed.size)}), unpacked ` +
  `${packed.unpackedSize} bytes (${mb(packed.unpackedSize)}), ${packed.entryCount} files:`);
for (const f of packed.files.sort((a, b) => a.path.localeCompare(b.path))) {
  console.log(`  ${String(f.size).padStart(10)}  ${f.path}`);
}
