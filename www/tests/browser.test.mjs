// Headless Debian chromium loads the demo (www/), decodes the golden .cvq through the
// wasm module's CPU path and must paint exactly the native `cvq decode` pixels; a
// truncated file must show an error. Screenshot: www/test-results/demo.png.
//   (cd www && npm ci && node --test tests/)   after  wasm-pack build web --target web
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFile, mkdir } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { readPng } from "../../web/tests/node/png.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
const artifacts = process.env.CVQ_ARTIFACTS ?? join(root, "www/test-results");
const MIME = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript",
  ".wasm": "application/wasm", ".css": "text/css", ".png": "image/png" };

let server, browser, base;

before(async () => {
  server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    const file = join(root, path.endsWith("/") ? path + "index.html" : path);
    if (!file.startsWith(root)) { res.writeHead(403).end(); return; }
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": MIME[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu-sandbox", "--enable-unsafe-webgpu",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--no-first-run"],
  });
  await mkdir(artifacts, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function openDemo(srcs) {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  const q = srcs.map((s) => `src=${encodeURIComponent(s)}`).join("&");
  await page.goto(`${base}/www/?${q}`);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
  return { page, errors };
}

test("demo decodes the golden .cvq to exactly the native decoder's pixels", async () => {
  const { page, errors } = await openDemo(["gallery/kodim23-crop-q3.cvq"]);
  assert.equal(await page.evaluate(() => document.body.dataset.ready), "1", errors.join("\n"));
  const got = await page.evaluate(() => {
    const c = document.querySelector("canvas[data-src]");
    return { state: c.dataset.state, ms: c.dataset.decodeMs, w: c.width, h: c.height,
      px: Array.from(c.getContext("2d").getImageData(0, 0, c.width, c.height).data) };
  });
  assert.equal(got.state, "done");
  console.log(`# chromium decode 72x56 (CPU path): ${got.ms} ms`);
  const golden = readPng(readFileSync(join(root, "web/tests/fixtures/kodim23-crop-q3.cvq.png")));
  assert.equal(got.w, golden.width);
  assert.equal(got.h, golden.height);
  let differing = 0;
  for (let i = 0; i < golden.rgba.length; i++) if (got.px[i] !== golden.rgba[i]) differing++;
  assert.equal(differing, 0, `${differing} canvas bytes differ from the native decoder`);
  const adapter = await page.evaluate(async () => {
    if (!navigator.gpu) return "no navigator.gpu";
    const a = await navigator.gpu.requestAdapter();
    return a ? `${a.info?.vendor ?? "?"} ${a.info?.architecture ?? ""} ${a.info?.description ?? ""}` : "no adapter";
  });
  console.log(`# WebGPU adapter: ${adapter}`);
  await page.screenshot({ path: join(artifacts, "demo.png"), fullPage: true });
  await page.close();
});

test("a picked PNG is encoded in the page to the native encoder's bytes and decoded back", async () => {
  const { page } = await openDemo(["gallery/kodim23-crop-q3.cvq"]);
  await page.setInputFiles("#file", join(root, "entropy/tests/fixtures/golden/kodim23-crop.png"));
  await page.waitForFunction(
    () => document.querySelector("canvas[data-state=encoded]") || document.body.dataset.encodeError,
    null, { timeout: 120_000 });
  const got = await page.evaluate(() => {
    const c = document.querySelector("canvas[data-state=encoded]");
    if (!c) return { error: document.body.dataset.encodeError };
    return { bytes: Number(c.dataset.bytes), ms: c.dataset.encodeMs,
      px: Array.from(c.getContext("2d").getImageData(0, 0, c.width, c.height).data) };
  });
  assert.equal(got.error, undefined);
  console.log(`# chromium encode 72x56 (CPU path): ${got.ms} ms, ${got.bytes} bytes`);
  const native = readFileSync(join(root, "web/tests/fixtures/kodim23-crop-q3.cvq"));
  assert.equal(got.bytes, native.length);
  const golden = readPng(readFileSync(join(root, "web/tests/fixtures/kodim23-crop-q3.cvq.png")));
  assert.deepEqual(got.px, Array.from(golden.rgba));
  await page.screenshot({ path: join(artifacts, "encode.png"), fullPage: true });
  await page.close();
});

test("a truncated file shows an error instead of hanging", async () => {
  const { page } = await openDemo(["../web/tests/fixtures/kodim23-crop-q3-cut150.cvq"]);
  const state = await page.evaluate(() => {
    const c = document.querySelector("canvas[data-src]");
    return { state: c.dataset.state, error: c.dataset.error };
  });
  assert.equal(state.state, "error");
  assert.match(state.error, /./);
  console.log(`# error shown: ${state.error}`);
  await page.screenshot({ path: join(artifacts, "error.png") });
  await page.close();
});
