// Decode/encode time of a Kodak image in headless chromium (CPU path, wasm), printed as a
// table. Needs web/pkg (wasm-pack build web --target web) and www's node_modules.
//   node www/bench.mjs [gallery/kodim23-q3.cvq]
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = fileURLToPath(new URL("../", import.meta.url));
const src = process.argv[2] ?? "gallery/kodim23-q3.cvq";
const server = createServer(async (req, res) => {
  const file = join(root, normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)));
  try {
    const body = await readFile(file.endsWith("/") ? file + "index.html" : file);
    res.writeHead(200, { "content-type": extname(file) === ".wasm" ? "application/wasm"
      : extname(file) === ".js" ? "text/javascript" : "text/html" });
    res.end(body);
  } catch { res.writeHead(404).end(); }
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu-sandbox", "--enable-unsafe-webgpu", "--no-first-run"] });
const page = await browser.newPage();
await page.goto(`http://127.0.0.1:${server.address().port}/www/?src=none`);
await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
const rows = await page.evaluate(async (src) => {
  const bytes = new Uint8Array(await (await fetch(`/www/${src}`)).arrayBuffer());
  const codec = window.cvqCodec;
  const out = [];
  let img;
  for (let i = 0; i < 2; i++) {
    const t = performance.now();
    img = codec.decode(bytes);
    out.push(["decode", `${img.width}x${img.height}`, performance.now() - t]);
  }
  const t = performance.now();
  const enc = codec.encode(img.rgba, img.width, img.height, codec.quality);
  out.push(["encode", `${img.width}x${img.height} (${enc.length} B)`, performance.now() - t]);
  return out;
}, src);
console.log(`| path | op | image | ms |\n|---|---|---|---:|`);
for (const [op, size, ms] of rows) console.log(`| CPU (wasm, chromium) | ${op} | ${src} ${size} | ${ms.toFixed(0)} |`);
await browser.close();
server.close();
