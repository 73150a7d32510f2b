// Shared by the browser tests: a small http server over the repository root and one
// headless Debian chromium (playwright-core, no browser download).
//   CHROMIUM=/path picks another browser, CVQ_ARTIFACTS=dir another screenshot folder.
// Test-only routes:
//   /slow/PATH?first=N&delay=MS   PATH's first N bytes, a pause of MS ms, then the rest
//   /corrupt/PATH?at=I            PATH with byte I inverted
import { before, after } from "node:test";
import { createServer } from "node:http";
import { readFile, mkdir } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { readPng } from "../../web/tests/node/png.mjs";

export const root = fileURLToPath(new URL("../../", import.meta.url));
export const artifacts = process.env.CVQ_ARTIFACTS ?? join(root, "www/test-results");
const MIME = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript",
  ".wasm": "application/wasm", ".css": "text/css", ".png": "image/png",
  ".json": "application/json" };

/** Set up by `useBrowser()`: the server's origin and the launched browser. */
export const env = { base: "", browser: null };

async function serve(req, res) {
  const url = new URL(req.url, "http://x");
  let path = normalize(decodeURIComponent(url.pathname));
  const mode = path.match(/^\/(slow|corrupt)\//)?.[1];
  if (mode) path = path.slice(mode.length + 1);
  const file = join(root, path.endsWith("/") ? path + "index.html" : path);
  if (!file.startsWith(root)) { res.writeHead(403).end(); return; }
  let body;
  try {
    body = await readFile(file);
  } catch {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": MIME[extname(file)] ?? "application/octet-stream",
    "cache-control": "no-store" });
  if (mode === "slow") {
    const first = Number(url.searchParams.get("first"));
    res.write(body.subarray(0, first));
    await new Promise((r) => setTimeout(r, Number(url.searchParams.get("delay") ?? 1500)));
    res.end(body.subarray(first));
  } else if (mode === "corrupt") {
    const at = Number(url.searchParams.get("at"));
    body[at] ^= 0xff;
    res.end(body);
  } else {
    res.end(body);
  }
}

/** Registers before/after hooks that start the server and chromium for this file. */
export function useBrowser() {
  let server;
  before(async () => {
    server = createServer((req, res) => serve(req, res).catch(() => res.destroy()));
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    env.base = `http://127.0.0.1:${server.address().port}`;
    env.browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu-sandbox", "--enable-unsafe-webgpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run"],
    });
    await mkdir(artifacts, { recursive: true });
  });
  after(async () => {
    await env.browser?.close();
    server?.close();
  });
}

/**
 * Opens `path` (relative to the server root) in a new page; page errors and console
 * errors are collected in `errors`.
 */
export async function open(path) {
  const page = await env.browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(`${env.base}${path}`);
  return { page, errors };
}

/** RGBA of a PNG in the repository. */
export function png(path) {
  return readPng(readFileSync(join(root, path)));
}

/** Number of bytes that differ between two RGBA arrays (lengths must match). */
export function differing(a, b) {
  if (a.length !== b.length) throw new Error(`lengths ${a.length} vs ${b.length}`);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

/** Width, height and RGBA bytes of the canvas matched by `selector` in `page`. */
export function canvasPixels(page, selector) {
  return page.evaluate((sel) => {
    const c = document.querySelector(sel);
    if (!c) return null;
    return { width: c.width, height: c.height,
      rgba: Array.from(c.getContext("2d").getImageData(0, 0, c.width, c.height).data) };
  }, selector);
}

/**
 * Waits until the demo's encode panel has finished with the file set on `#file`; returns
 * `{error}` on failure, else the produced `.cvq` (`bytes`, from the download link) and the
 * summary line.
 */
export async function encodeResult(page) {
  await page.waitForFunction(() => ["done", "error"].includes(
    document.getElementById("result").dataset.state), null, { timeout: 120_000 });
  return page.evaluate(async () => {
    const result = document.getElementById("result");
    if (result.dataset.state !== "done") return { error: result.dataset.error };
    const bytes = new Uint8Array(await (await fetch(document.getElementById("download").href))
      .arrayBuffer());
    return { bytes: Array.from(bytes), summary: document.getElementById("summary").textContent };
  });
}
