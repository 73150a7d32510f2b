// The demo's encode panel on a full-size Kodak image (768×512) in headless chromium: the
// shown bytes/bpp/PSNR agree with the produced .cvq, the browser's JPEG and WebP are at most
// as large, the before/after slider works. Screenshot: www/test-results/encode-kodak.png.
//
// Input: the original ../shared/data/kodak/kodim05.png (beside the repository, as in CI).
// Without it (the repository holds no full-size original) the test makes a stand-in in the
// page — the native-encoded gallery/kodak/kodim05.cvq decoded by the worker, saved as a
// PNG — whose comparison numbers flatter cvq (it re-encodes its own output).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { useBrowser, open, artifacts, root, encodeResult } from "./harness.mjs";

const ORIGINAL = join(root, "../shared/data/kodak/kodim05.png");

useBrowser();

test("the encode panel measures cvq against JPEG and WebP at the same byte budget", async () => {
  const { page, errors } = await open("/www/?src=gallery/kodim23-crop-q3.cvq");
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
  const original = existsSync(ORIGINAL);
  console.log(`# input: ${original ? ORIGINAL : "kodim05.cvq decoded (no original found)"}`);
  const pngBase64 = original ? readFileSync(ORIGINAL).toString("base64") : await page.evaluate(async () => {
    const { client } = await import("/www/node_modules/cvq-web/cvq-client.js");
    const bytes = new Uint8Array(await (await fetch("/www/gallery/kodak/kodim05.cvq")).arrayBuffer());
    const img = await client().decode(bytes);
    const canvas = new OffscreenCanvas(img.width, img.height);
    canvas.getContext("2d").putImageData(new ImageData(img.rgba, img.width, img.height), 0, 0);
    const png = new Uint8Array(await (await canvas.convertToBlob({ type: "image/png" })).arrayBuffer());
    let s = "";
    for (const b of png) s += String.fromCharCode(b);
    return btoa(s);
  });
  await page.setInputFiles("#file", { name: "kodim05.png", mimeType: "image/png",
    buffer: Buffer.from(pngBase64, "base64") });
  const made = await encodeResult(page);
  assert.equal(made.error, undefined, errors.join("\n"));
  const got = await page.evaluate(() => {
    const rows = [...document.querySelectorAll("#formats tbody tr")].map((tr) => ({
      format: tr.dataset.format, fits: tr.dataset.fits, error: tr.dataset.error,
      cells: [...tr.cells].map((td) => td.textContent) }));
    return { rows, status: document.getElementById("encode-status").textContent,
      options: [...document.querySelectorAll("#left option")].map((o) => o.textContent),
      slider: !!document.querySelector("#slider input[type=range]"),
      canvases: [...document.querySelectorAll("#slider canvas")].map((c) => [c.width, c.height]) };
  });
  got.cvq = made.bytes.length;
  got.summary = made.summary;
  console.log(`# ${got.summary}`);
  for (const r of got.rows) console.log(`#   ${r.cells.join(" | ")}`);

  assert.deepEqual(got.rows.map((r) => r.format), ["cvq", "jpeg", "webp"]);
  const num = (s) => Number(s.replace(/ \(.*\)$/, ""));
  const [cvq, ...browser] = got.rows.map((r) => ({ ...r, bytes: num(r.cells[2]),
    bpp: num(r.cells[3]), psnr: num(r.cells[4]), msSsim: num(r.cells[5]) }));
  assert.equal(cvq.bytes, got.cvq, "table bytes ≠ downloaded .cvq size");
  assert.ok(Math.abs(cvq.bpp - (got.cvq * 8) / (768 * 512)) < 1e-4, `bpp ${cvq.bpp}`);
  assert.match(got.summary, new RegExp(`768×512 → ${got.cvq} B`));
  assert.match(got.summary, /encode \d+ ms, decode \d+ ms; encoded on CPU \(wasm SIMD\), decoded on CPU \(wasm SIMD\)/);
  for (const r of [cvq, ...browser]) {
    assert.equal(r.error, undefined, `${r.format}: ${r.error}`);
    assert.ok(r.psnr > 15 && r.psnr < 60, `${r.format} PSNR ${r.psnr}`);
    assert.ok(r.msSsim > 0 && r.msSsim <= 1, `${r.format} MS-SSIM ${r.msSsim}`);
  }
  for (const r of browser) {
    if (r.fits === "true") {
      assert.ok(r.bytes > 0 && r.bytes <= got.cvq, `${r.format} ${r.bytes} B > ${got.cvq} B`);
    } else {
      // Even quality 0 is larger (WebP on Kodak at ~0.13 bpp): shown, marked over budget.
      assert.equal(r.fits, "false");
      assert.match(r.cells[1], /over budget/);
      assert.ok(r.bytes > got.cvq, `${r.format} marked over budget at ${r.bytes} B`);
    }
  }
  assert.equal(browser.find((r) => r.format === "jpeg").fits, "true", "JPEG fits the budget");
  if (original) {
    // The browser's encoder wrote exactly the native CLI's file for the same original.
    assert.deepEqual(made.bytes, Array.from(readFileSync(join(root, "www/gallery/kodak/kodim05.cvq"))),
      "browser .cvq differs from www/gallery/kodak/kodim05.cvq");
  }
  assert.ok(got.slider, "no slider");
  assert.deepEqual(got.canvases, [[768, 512], [768, 512]]);
  assert.deepEqual(got.options.map((o) => o.split(" ")[0]), ["original", "JPEG", "WebP"]);

  // Move the divider and show the JPEG on the left, as a user would.
  await page.selectOption("#left", { index: 1 });
  await page.locator("#slider input[type=range]").fill("70");
  assert.equal(await page.evaluate(() => document.getElementById("slider").style
    .getPropertyValue("--pos")), "70%");
  await page.locator("#result").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(artifacts, "encode-kodak.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test("the family picker encodes with the recurrent model at the chosen iteration count", async () => {
  const { page, errors } = await open("/www/?src=gallery/kodim23-crop-q3.cvq");
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
  // Input: a 256×192 crop of the gallery's kodim05, made in the page (a stand-in image:
  // the test checks the recurrent path, not rate-distortion).
  const pngBase64 = await page.evaluate(async () => {
    const { client } = await import("/www/node_modules/cvq-web/cvq-client.js");
    const bytes = new Uint8Array(await (await fetch("/www/gallery/kodak/kodim05.cvq")).arrayBuffer());
    const img = await client().decode(bytes);
    const canvas = new OffscreenCanvas(256, 192);
    canvas.getContext("2d").putImageData(new ImageData(img.rgba, img.width, img.height), -200, -100);
    const png = new Uint8Array(await (await canvas.convertToBlob({ type: "image/png" })).arrayBuffer());
    let s = "";
    for (const b of png) s += String.fromCharCode(b);
    return btoa(s);
  });
  assert.equal(await page.locator("#iterations-label").isHidden(), true);
  await page.selectOption("#family", "recurrent");
  // The picker fills from the recurrent model (fetched by the worker on first use).
  await page.waitForFunction(() => document.getElementById("iterations").options.length > 0,
    null, { timeout: 60_000 });
  const offered = await page.evaluate(() =>
    [...document.getElementById("iterations").options].map((o) => Number(o.value)));
  assert.deepEqual(offered, [1, 2, 3, 4, 5, 6, 7, 8]);
  await page.selectOption("#iterations", "2");
  await page.setInputFiles("#file", { name: "crop.png", mimeType: "image/png",
    buffer: Buffer.from(pngBase64, "base64") });

  const check = async (iterations) => {
    await page.waitForFunction((t) => {
      const r = document.getElementById("result");
      const cell = document.querySelector("#formats tbody tr[data-format=cvq] td:nth-child(2)");
      return r.dataset.state === "error" ||
        (r.dataset.state === "done" && cell?.textContent === `${t} iterations`);
    }, iterations, { timeout: 120_000 });
    const made = await encodeResult(page);
    assert.equal(made.error, undefined, errors.join("\n"));
    const got = await page.evaluate(async (bytes) => {
      const { client } = await import("/www/node_modules/cvq-web/cvq-client.js");
      const cells = [...document.querySelector("#formats tbody tr[data-format=cvq]").cells]
        .map((td) => td.textContent);
      return { cells, info: await client().inspect(new Uint8Array(bytes)) };
    }, made.bytes);
    console.log(`# ${made.summary}`);
    console.log(`#   ${got.cells.join(" | ")}`);
    assert.match(made.summary, /256×192 → \d+ B .* with model cvq-rnn#[0-9a-f]{16}/);
    assert.match(got.info.model, /^cvq-rnn#[0-9a-f]{16}$/);
    assert.equal(got.info.groups, iterations, "iterations stored in the file");
    assert.equal(Number(got.cells[2]), made.bytes.length);
    const psnr = Number(got.cells[4]);
    assert.ok(psnr > 12 && psnr < 60, `PSNR ${psnr}`);
    return { bytes: made.bytes.length, psnr };
  };
  const two = await check(2);
  // Another iteration count encodes the same image again: a longer file, not worse.
  await page.selectOption("#iterations", "3");
  const three = await check(3);
  assert.ok(three.bytes > two.bytes, `${three.bytes} B after 3 iterations ≤ ${two.bytes} B after 2`);
  assert.ok(three.psnr >= two.psnr - 0.5, `PSNR ${three.psnr} after 3 < ${two.psnr} after 2`);
  assert.deepEqual(errors, []);
  await page.close();
});
