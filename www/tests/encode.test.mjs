// The demo's encode panel on a full-size Kodak image (768×512) in headless chromium: the
// shown bytes/bpp/PSNR agree with the produced .cvq, the browser's JPEG and WebP are at most
// as large, the before/after slider works. Screenshot: www/test-results/encode-kodak.png.
//
// Input: the repository holds no full-size original, so the test makes one in the page —
// the native-encoded gallery/kodak/kodim05.cvq decoded by the worker, saved as a PNG.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { useBrowser, open, artifacts } from "./harness.mjs";

useBrowser();

test("the encode panel measures cvq against JPEG and WebP at the same byte budget", async () => {
  const { page, errors } = await open("/www/?src=gallery/kodim23-crop-q3.cvq");
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
  const pngBase64 = await page.evaluate(async () => {
    const { client } = await import("/www/cvq-client.js");
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
  await page.waitForFunction(() => ["done", "error"].includes(
    document.getElementById("result").dataset.state), null, { timeout: 120_000 });
  const got = await page.evaluate(async () => {
    const result = document.getElementById("result");
    if (result.dataset.state !== "done") return { error: result.dataset.error };
    const cvq = (await (await fetch(document.getElementById("download").href)).arrayBuffer())
      .byteLength;
    const rows = [...document.querySelectorAll("#formats tbody tr")].map((tr) => ({
      format: tr.dataset.format, fits: tr.dataset.fits, error: tr.dataset.error,
      cells: [...tr.cells].map((td) => td.textContent) }));
    return { cvq, rows, summary: document.getElementById("summary").textContent,
      status: document.getElementById("encode-status").textContent,
      options: [...document.querySelectorAll("#left option")].map((o) => o.textContent),
      slider: !!document.querySelector("#slider input[type=range]"),
      canvases: [...document.querySelectorAll("#slider canvas")].map((c) => [c.width, c.height]) };
  });
  assert.equal(got.error, undefined, errors.join("\n"));
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
    assert.equal(r.fits, "true", `${r.format}: no quality fits ${got.cvq} B`);
    assert.ok(r.bytes > 0 && r.bytes <= got.cvq, `${r.format} ${r.bytes} B > ${got.cvq} B`);
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
