// A 12-megapixel photo (4000×3000, web/tests/fixtures/kodim23-12mp-q3.cvq, the
// embedded model, quality 3) in headless chromium: <cvq-img> decodes it in 512-px tiles on the
// CPU path and paints each tile as it finishes; the wasm memory stays bounded (a whole-
// image decode needs about 1.2 GB natively), and 2,000 sampled pixels equal the native
// `cvq decode` (scripts/large-fixture.mjs wrote them).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { useBrowser, open, root } from "./harness.mjs";

useBrowser();

const FIXTURE = "web/tests/fixtures/kodim23-12mp-q3.cvq";
/** Bound on the worker's wasm memory after the decode (measured 102 MiB, 2026-11-28). */
const MEMORY_LIMIT = 256 * 1024 * 1024;

test("a 12-MP file decodes in tiles, painted as they finish, in bounded memory", { timeout: 600_000 }, async () => {
  const { page, errors } = await open("/www/tests/element.html");
  const { samples, width, height } = JSON.parse(readFileSync(join(root, `${FIXTURE}.samples.json`)));
  const got = await page.evaluate(async ({ src, samples }) => {
    const { client } = await import("/www/node_modules/cvq-web/cvq-client.js");
    const el = document.createElement("cvq-img");
    el.setAttribute("src", src);
    el.setAttribute("loading", "eager");
    el.setAttribute("width", "400");
    const progress = [];
    el.addEventListener("cvq-progress", (e) => progress.push({ ...e.detail, state: el.state,
      at: performance.now() }));
    const t0 = performance.now();
    const outcome = await new Promise((resolve) => {
      el.addEventListener("load", () => resolve("load"));
      el.addEventListener("error", (e) => resolve(`error: ${e.message}`));
      document.body.append(el);
    });
    const ms = performance.now() - t0;
    if (outcome !== "load") return { outcome };
    const canvas = el.querySelector("canvas");
    const ctx = canvas.getContext("2d");
    const mismatches = [];
    for (const [x, y, r, g, b] of samples) {
      const [R, G, B] = ctx.getImageData(x, y, 1, 1).data;
      if (R !== r || G !== g || B !== b) mismatches.push([x, y, R - r, G - g, B - b]);
    }
    const info = await client().info();
    return { outcome, ms, state: el.state, size: [canvas.width, canvas.height], progress,
      mismatches, memoryBytes: info.memoryBytes, backend: info.backend };
  }, { src: `/${FIXTURE}`, samples });
  assert.equal(got.outcome, "load", errors.join("\n"));
  assert.equal(got.state, "complete");
  assert.deepEqual(got.size, [width, height]);
  // 4000×3000 → latent 250×188 → 8 × 6 tiles of 32 positions (512 px).
  const tiles = got.progress.map((p) => p.tilesPainted);
  assert.deepEqual(tiles, Array.from({ length: 48 }, (_, i) => i + 1), "one paint per tile");
  assert.ok(got.progress.slice(0, -1).every((p) => p.state === "partial"));
  const first = got.progress[0].at, last = got.progress.at(-1).at;
  console.log(`# 12 MP on ${got.backend}: ${(got.ms / 1000).toFixed(1)} s to load, tiles painted ` +
    `from ${(first / 1000).toFixed(1)} s to ${(last / 1000).toFixed(1)} s (page clock); wasm memory ` +
    `${(got.memoryBytes / 2 ** 20).toFixed(0)} MiB; ${got.mismatches.length} of ${samples.length} ` +
    `sampled pixels differ from native`);
  assert.ok(got.memoryBytes <= MEMORY_LIMIT, `wasm memory ${got.memoryBytes} B`);
  // Native and wasm run the same tiles; their float kernels may round differently
  // (allow ±1 in at most 1 % of the samples).
  const worst = Math.max(0, ...got.mismatches.flatMap(([, , ...d]) => d.map(Math.abs)));
  assert.ok(worst <= 1 && got.mismatches.length <= samples.length / 100,
    `${got.mismatches.length} samples differ, worst by ${worst}: ${JSON.stringify(got.mismatches.slice(0, 5))}`);
  assert.deepEqual(errors, []);
  await page.close();
});
