// The demo page (www/) in headless Debian chromium: the golden .cvq, shown by <cvq-img>
// through the worker, must paint exactly the native `cvq decode` pixels; a picked PNG must
// encode to exactly the native encoder's bytes; a truncated file shows its error.
// Screenshots: www/test-results/demo.png, encode.png, error.png.
//   (cd www && npm ci && node --test tests/)   after  wasm-pack build web --target web
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { useBrowser, open, png, differing, canvasPixels, artifacts, root, encodeResult }
  from "./harness.mjs";

useBrowser();

/** Opens the demo showing only `srcs` and waits until every <cvq-img> has settled. */
async function openDemo(srcs) {
  const q = srcs.map((s) => `src=${encodeURIComponent(s)}`).join("&");
  const { page, errors } = await open(`/www/?${q}`);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
  await page.waitForFunction(() => [...document.querySelectorAll("cvq-img")]
    .every((e) => e.state === "complete" || e.state === "error"), null, { timeout: 120_000 });
  return { page, errors };
}

test("demo decodes the golden .cvq to exactly the native decoder's pixels", async () => {
  const { page, errors } = await openDemo(["gallery/kodim23-crop-q3.cvq"]);
  assert.equal(await page.evaluate(() => document.body.dataset.ready), "1", errors.join("\n"));
  assert.equal(await page.evaluate(() => document.querySelector("cvq-img").state), "complete");
  const got = await canvasPixels(page, "cvq-img canvas");
  const golden = png("web/tests/fixtures/kodim23-crop-q3.cvq.png");
  assert.equal(got.width, golden.width);
  assert.equal(got.height, golden.height);
  assert.equal(differing(got.rgba, golden.rgba), 0, "canvas differs from the native decoder");
  const status = await page.locator("#status").textContent();
  assert.match(status, /CPU \(wasm SIMD\)/);
  console.log(`# status: ${status}`);
  const adapter = await page.evaluate(async () => {
    if (!navigator.gpu) return "no navigator.gpu";
    const a = await navigator.gpu.requestAdapter();
    return a ? `${a.info?.vendor ?? "?"} ${a.info?.architecture ?? ""} ${a.info?.description ?? ""}` : "no adapter";
  });
  console.log(`# WebGPU adapter: ${adapter}`);
  await page.screenshot({ path: join(artifacts, "demo.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test("a picked PNG is encoded in the worker to the native encoder's bytes and decoded back", async () => {
  const { page, errors } = await openDemo(["gallery/kodim23-crop-q3.cvq"]);
  await page.setInputFiles("#file", join(root, "entropy/tests/fixtures/golden/kodim23-crop.png"));
  const got = await encodeResult(page);
  assert.equal(got.error, undefined);
  console.log(`# ${got.summary}`);
  const native = readFileSync(join(root, "web/tests/fixtures/kodim23-crop-q3.cvq"));
  assert.deepEqual(got.bytes, Array.from(native), "the .cvq differs from the native encoder's");
  const decoded = await canvasPixels(page, "#slider canvas.after");
  const golden = png("web/tests/fixtures/kodim23-crop-q3.cvq.png");
  assert.equal(differing(decoded.rgba, golden.rgba), 0, "decoded pixels differ from native");
  await page.screenshot({ path: join(artifacts, "encode.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test("the model picker encodes with an MS-SSIM-tuned model to the native encoder's bytes", async () => {
  const { page, errors } = await openDemo(["gallery/kodim23-crop-q3.cvq"]);
  const offered = await page.evaluate(() =>
    [...document.getElementById("cvqn-model").options].map((o) => [o.value, o.selected]));
  assert.deepEqual(offered.map(([v]) => v),
    ["q1", "q2", "", "q4", "q5", "ms-ssim-q1", "ms-ssim-q2", "ms-ssim-q3", "ms-ssim-q4"]);
  assert.deepEqual(offered.find(([, selected]) => selected), ["", true], "default model picked");
  await page.selectOption("#cvqn-model", "ms-ssim-q2");
  await page.setInputFiles("#file", join(root, "entropy/tests/fixtures/golden/kodim23-crop.png"));
  const got = await encodeResult(page);
  assert.equal(got.error, undefined, errors.join("\n"));
  console.log(`# ${got.summary}`);
  // the model's hash: the first 8 bytes of the file's trailing SHA-256 digest
  const model = readFileSync(join(root, "models/cvq-compact-ssim-q2.cvqm"));
  const hash = model.subarray(model.length - 32, model.length - 24).toString("hex");
  assert.match(got.summary, new RegExp(`with model cvq-compact#${hash};`));
  const native = readFileSync(join(root, "web/tests/fixtures/kodim23-crop-ssim-q2.cvq"));
  assert.deepEqual(got.bytes, Array.from(native), "the .cvq differs from the native encoder's");
  // decoded back by the worker with the model it fetched to encode (not embedded)
  const decoded = await canvasPixels(page, "#slider canvas.after");
  const golden = png("web/tests/fixtures/kodim23-crop-ssim-q2.cvq.png");
  assert.equal(differing(decoded.rgba, golden.rgba), 0, "decoded pixels differ from native");
  const setting = await page.evaluate(() => document.querySelector(
    "#formats tbody tr[data-format=cvq] td:nth-child(2)").textContent);
  assert.equal(setting, "ms-ssim-q2");
  assert.deepEqual(errors, []);
  await page.close();
});

test("a truncated file shows an error instead of hanging", async () => {
  const { page } = await openDemo(["../web/tests/fixtures/kodim23-crop-q3-cut120.cvq"]);
  const got = await page.evaluate(() => {
    const el = document.querySelector("cvq-img");
    return { state: el.state, error: el.error, text: el.textContent,
      caption: document.querySelector("figcaption").textContent };
  });
  assert.equal(got.state, "error");
  assert.match(got.error, /./);
  assert.equal(got.text, got.error);
  assert.ok(got.caption.endsWith(got.error), got.caption);
  console.log(`# error shown: ${got.error}`);
  await page.screenshot({ path: join(artifacts, "error.png") });
  await page.close();
});
