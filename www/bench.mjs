// Browser decode/encode times of Kodak images in headless chromium, printed as a Markdown
// table (not asserted anywhere): the CPU path (wasm SIMD) and, when the build has the
// `webgpu` feature and chromium offers an adapter, the WebGPU path (synthesis on the GPU).
// Needs the npm package cvq-web (both builds) installed into www/node_modules by
// scripts/build-web.sh, and www's playwright-core (npm ci).
//   node www/bench.mjs [--runs N] [--rnn FILE.cvq] [kodim01 kodim23 ...]   (default: kodim23, 3 runs)
// --rnn: also the CPU decode of a recurrent file made with models/cvq-rnn.cvqm, e.g.
//   cvq encode kodim01.png --model models/cvq-rnn.cvqm -o /tmp/kodim01-rnn8.cvq
// Encode inputs are the original PNGs from ../shared/data/kodak when present, else the
// decoded images. Each figure is the median of N runs after one warm-up run.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { readPng } from "../web/tests/node/png.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const args = process.argv.slice(2);
const runsAt = args.indexOf("--runs");
const runs = runsAt >= 0 ? Number(args.splice(runsAt, 2)[1]) : 3;
const rnnAt = args.indexOf("--rnn");
const rnnFile = rnnAt >= 0 ? args.splice(rnnAt, 2)[1] : null;
const names = args.length ? args : ["kodim23"];
const MIME = { ".wasm": "application/wasm", ".js": "text/javascript", ".html": "text/html" };

const server = createServer(async (req, res) => {
  const file = join(root, normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)));
  try {
    const body = await readFile(file.endsWith("/") ? file + "index.html" : file);
    res.writeHead(200, { "content-type": MIME[extname(file)] ?? "application/octet-stream" });
    res.end(body);
  } catch { res.writeHead(404).end(); }
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu-sandbox", "--enable-unsafe-webgpu",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run"] });
const page = await browser.newPage();
await page.goto(`http://127.0.0.1:${server.address().port}/www/tests/element.html`);

const rows = [];
for (const name of names) {
  const original = join(root, "../shared/data/kodak", `${name}.png`);
  const src = existsSync(original) ? readPng(readFileSync(original)) : null;
  const got = await page.evaluate(async ({ name, runs, src }) => {
    const wasm = await import("/www/node_modules/cvq-web/cvq_web.js");
    await wasm.default();
    const gpuWasm = await import("/www/node_modules/cvq-web/webgpu/cvq_web.js");
    await gpuWasm.default();
    const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const time = async (fn) => {
      await fn();
      const ms = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await fn();
        ms.push(performance.now() - t0);
      }
      return median(ms);
    };
    const bytes = new Uint8Array(await (await fetch(`/www/gallery/kodak/${name}.cvq`)).arrayBuffer());
    const cpu = wasm.Codec.embedded();
    const info = wasm.inspect(bytes);
    const out = { size: `${info.width}×${info.height}`, bytes: bytes.length, rows: [] };
    let img;
    out.rows.push(["CPU (wasm SIMD)", "decode", await time(() => { img = cpu.decode(bytes); })]);
    const full = new wasm.Codec(new Uint8Array(await (await fetch("/models/cvq-compact-q3.cvqm")).arrayBuffer()));
    const rgba = src ? new Uint8Array(src.rgba) : img.rgba;
    out.encodeInput = src ? "original PNG" : "decoded image";
    out.rows.push(["CPU (wasm SIMD)", "encode", await time(() => full.encode(rgba, img.width, img.height, full.quality))]);
    const adapter = await navigator.gpu?.requestAdapter();
    if (!adapter) out.gpu = "no WebGPU adapter";
    else {
      const gpu = await gpuWasm.GpuCodec.create();
      const { vendor, architecture, isFallbackAdapter } = adapter.info;
      const label = `${vendor} ${architecture}${isFallbackAdapter ? ", software" : ""}`;
      out.rows.push([`WebGPU (${label})`, "decode", await time(() => gpu.decode(bytes))]);
    }
    return out;
  }, { name, runs, src: src && { width: src.width, height: src.height, rgba: Array.from(src.rgba) } });
  for (const [path, op, ms] of got.rows) {
    rows.push(`| ${name} ${got.size} (${got.bytes} B) | ${path} | ${op}${op === "encode" ? ` (${got.encodeInput})` : ""} | ${ms.toFixed(0)} |`);
  }
  if (got.gpu) rows.push(`| ${name} | WebGPU | — | ${got.gpu} |`);
}
if (rnnFile) {
  const got = await page.evaluate(async ({ runs, file }) => {
    const wasm = await import("/www/node_modules/cvq-web/cvq_web.js");
    await wasm.default();
    const bytes = new Uint8Array(file);
    const rnn = new wasm.Codec(new Uint8Array(await (await fetch("/models/cvq-rnn.cvqm")).arrayBuffer()));
    const ms = [];
    let img;
    for (let i = 0; i <= runs; i++) {
      const t0 = performance.now();
      img = rnn.decode(bytes);
      if (i > 0) ms.push(performance.now() - t0);
    }
    return { ms: ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)], size: `${img.width}×${img.height}`,
      groups: img.groupsReceived, bytes: bytes.length };
  }, { runs, file: Array.from(readFileSync(rnnFile)) });
  rows.push(`| ${rnnFile.split("/").pop()} ${got.size} (${got.bytes} B) | CPU (wasm SIMD) | recurrent decode, ${got.groups} iterations | ${got.ms.toFixed(0)} |`);
}
console.log(`chromium ${browser.version()}, median of ${runs} runs after a warm-up\n`);
console.log("| image | path | op | ms |\n|---|---|---|---:|");
for (const r of rows) console.log(r);
await browser.close();
server.close();
