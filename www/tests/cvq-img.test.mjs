// <cvq-img> in headless chromium: progressive paint of a slowly streamed file (preview and
// final pixels equal the native decoder's exactly; a CVQN file group by group, a recurrent
// file iteration by iteration with a model the page names), fallback and error text on a corrupt
// file, and a main thread that keeps running while the worker decodes a Kodak image.
// Screenshots: www/test-results/progressive-preview.png, progressive-final.png, fallback.png.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { useBrowser, open, png, differing, canvasPixels, artifacts } from "./harness.mjs";

useBrowser();

const FIXTURES = "web/tests/fixtures";

/**
 * Adds a <cvq-img> with `attrs` to the page and records its events on window.events,
 * each with the element's state and, for cvq-progress, the canvas pixels at that moment.
 */
function addImage(page, attrs) {
  return page.evaluate((attrs) => {
    window.events = [];
    const el = document.createElement("cvq-img");
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    for (const type of ["cvq-progress", "load", "error"]) {
      el.addEventListener(type, (e) => {
        const c = el.querySelector("canvas");
        window.events.push({ type, state: el.state, detail: e.detail ?? null,
          message: e.message ?? null,
          rgba: type === "cvq-progress" ? Array.from(c.getContext("2d")
            .getImageData(0, 0, c.width, c.height).data) : null });
      });
    }
    document.body.append(el);
  }, attrs);
}

/** Waits until the last added <cvq-img> has fired load or error. */
function settled(page) {
  return page.waitForFunction(() => window.events.some((e) => e.type === "load" ||
    e.type === "error"), null, { timeout: 60_000 });
}

test("a streamed file paints the 1-group preview, then the final image, both exact", async () => {
  const { page, errors } = await open("/www/tests/element.html");
  // Warm the worker first (wasm compiled, model loaded) so the 1.5 s pause in the stream
  // is longer than the preview takes; a cold worker would see the whole file at once.
  await addImage(page, { src: `/${FIXTURES}/kodim23-crop-q3.cvq`, loading: "eager" });
  await settled(page);
  await page.evaluate(() => document.querySelector("cvq-img").remove());

  await addImage(page, { src: `/slow/${FIXTURES}/kodim23-crop-q3.cvq?first=120&delay=1500`,
    alt: "a parrot", loading: "eager" });
  await page.waitForFunction(() => window.events.length > 0, null, { timeout: 60_000 });
  await page.locator("cvq-img").screenshot({ path: join(artifacts, "progressive-preview.png") });
  const stillPartial = await page.evaluate(() => document.querySelector("cvq-img").state);
  await settled(page);
  const run = await page.evaluate(() => {
    const el = document.querySelector("cvq-img");
    return { events: window.events, state: el.state, role: el.getAttribute("role"),
      label: el.getAttribute("aria-label") };
  });
  assert.deepEqual(run.events.map((e) => e.type), ["cvq-progress", "cvq-progress", "load"],
    errors.join("\n"));
  const [preview, last] = run.events;
  assert.deepEqual(preview.detail, { groupsReceived: 1, groups: 3 });
  assert.equal(preview.state, "partial");
  assert.equal(stillPartial, "partial", "the preview screenshot was taken too late");
  const cut = png(`${FIXTURES}/kodim23-crop-q3-cut120.cvq.png`);
  assert.equal(differing(preview.rgba, cut.rgba), 0, "preview differs from the native decode");

  assert.deepEqual(last.detail, { groupsReceived: 3, groups: 3 });
  assert.equal(run.state, "complete");
  assert.equal(run.role, "img");
  assert.equal(run.label, "a parrot");
  const final = await canvasPixels(page, "cvq-img > canvas");
  const full = png(`${FIXTURES}/kodim23-crop-q3.cvq.png`);
  assert.equal(final.width, full.width);
  assert.equal(final.height, full.height);
  assert.equal(differing(last.rgba, full.rgba), 0, "final paint differs from the native decode");
  assert.equal(differing(final.rgba, full.rgba), 0, "final image differs from the native decode");
  await page.locator("cvq-img").screenshot({ path: join(artifacts, "progressive-final.png") });
  assert.deepEqual(errors, []);
  await page.close();
});

test("a recurrent file paints iteration by iteration with the model the page names, exact", async () => {
  const { page, errors } = await open("/www/tests/element.html");
  await page.evaluate(async () => {
    const { configure } = await import("/www/node_modules/cvq-web/cvq-img.js");
    configure({ models: { "rnn-tiny": "/web/tests/fixtures/rnn-tiny.cvqm" } });
  });
  // Warm the worker and fetch the model first, so the pause in the stream outlasts the
  // preview (see the CVQN test above).
  await addImage(page, { src: `/${FIXTURES}/kodim23-crop-rnn4.cvq`, loading: "eager" });
  await settled(page);
  assert.equal(await page.evaluate(() => document.querySelector("cvq-img").state), "complete",
    errors.join("\n"));
  await page.evaluate(() => document.querySelector("cvq-img").remove());

  // 69 bytes: the header and 2 of the 4 iterations, then a pause, then the rest.
  await addImage(page, { src: `/slow/${FIXTURES}/kodim23-crop-rnn4.cvq?first=69&delay=1500`,
    loading: "eager" });
  await settled(page);
  const events = await page.evaluate(() => window.events);
  assert.deepEqual(events.map((e) => e.type), ["cvq-progress", "cvq-progress", "load"],
    errors.join("\n"));
  const [preview, last] = events;
  assert.deepEqual(preview.detail, { groupsReceived: 2, groups: 4 });
  assert.equal(preview.state, "partial");
  const cut = png(`${FIXTURES}/kodim23-crop-rnn4-cut69.cvq.png`);
  assert.equal(differing(preview.rgba, cut.rgba), 0, "2-iteration paint differs from native");
  assert.deepEqual(last.detail, { groupsReceived: 4, groups: 4 });
  const full = png(`${FIXTURES}/kodim23-crop-rnn4.cvq.png`);
  assert.equal(differing(last.rgba, full.rgba), 0, "final paint differs from the native decode");
  assert.deepEqual(errors, []);
  await page.close();

  // Without the model configured: an error that says what to do, not a hang.
  const bare = await open("/www/tests/element.html");
  await addImage(bare.page, { src: `/${FIXTURES}/kodim23-crop-rnn4.cvq`, loading: "eager" });
  await settled(bare.page);
  const error = await bare.page.evaluate(() => document.querySelector("cvq-img").error);
  assert.match(error, /rnn-tiny#[0-9a-f]{16}, which is not embedded: configure\(\{ models/);
  console.log(`# recurrent file, model not configured: ${error}`);
  await bare.page.close();
});

test("a corrupt file falls back to the fallback <img>, or shows the error text", async () => {
  const { page } = await open("/www/tests/element.html");
  const corrupt = `/corrupt/${FIXTURES}/kodim23-crop-q3.cvq?at=10`;
  const fallback = `/${FIXTURES}/kodim23-crop-q3.cvq.png`;
  await addImage(page, { src: corrupt, alt: "a parrot", fallback, loading: "eager" });
  await page.waitForFunction(() => window.events.length > 0, null, { timeout: 30_000 });
  const withFallback = await page.evaluate(() => {
    const el = document.querySelector("cvq-img");
    const img = el.querySelector("img");
    return { events: window.events, state: el.state, error: el.error,
      img: img && { src: img.getAttribute("src"), alt: img.alt }, canvas: !!el.querySelector("canvas") };
  });
  assert.equal(withFallback.state, "error");
  assert.deepEqual(withFallback.events.map((e) => e.type), ["error"]);
  assert.equal(withFallback.events[0].message, withFallback.error);
  assert.deepEqual(withFallback.img, { src: fallback, alt: "a parrot" });
  assert.equal(withFallback.canvas, false);
  await page.waitForFunction(() => document.querySelector("cvq-img img").complete);
  await page.locator("cvq-img").screenshot({ path: join(artifacts, "fallback.png") });
  console.log(`# corrupt file: ${withFallback.error}`);

  await page.evaluate(() => document.querySelector("cvq-img").remove());
  await addImage(page, { src: corrupt, alt: "a parrot", loading: "eager" });
  await page.waitForFunction(() => window.events.length > 0, null, { timeout: 30_000 });
  const bare = await page.evaluate(() => {
    const el = document.querySelector("cvq-img");
    return { state: el.state, error: el.error, text: el.textContent, img: !!el.querySelector("img") };
  });
  assert.equal(bare.state, "error");
  assert.equal(bare.img, false);
  assert.match(bare.error, /./);
  assert.equal(bare.text, bare.error);

  await page.evaluate(() => document.querySelector("cvq-img").remove());
  await addImage(page, { src: "/www/gallery/missing.cvq", loading: "eager" });
  await page.waitForFunction(() => window.events.length > 0, null, { timeout: 30_000 });
  const missing = await page.evaluate(() => document.querySelector("cvq-img").error);
  assert.match(missing, /HTTP 404/);
  await page.close();
});

test("a wasm module that fails to load ends in the fallback, not a hang", async () => {
  const { page } = await open("/www/tests/element.html");
  await page.evaluate(async () => {
    const { configure } = await import("/www/node_modules/cvq-web/cvq-img.js");
    configure({ moduleUrl: "/www/node_modules/cvq-web/missing.js" });
  });
  const fallback = `/${FIXTURES}/kodim23-crop-q3.cvq.png`;
  await addImage(page, { src: `/${FIXTURES}/kodim23-crop-q3.cvq`, fallback, loading: "eager" });
  await settled(page);
  const got = await page.evaluate(() => {
    const el = document.querySelector("cvq-img");
    return { state: el.state, error: el.error, img: el.querySelector("img")?.getAttribute("src") };
  });
  assert.equal(got.state, "error");
  assert.equal(got.img, fallback);
  assert.match(got.error, /missing\.js/);
  console.log(`# wasm module missing: ${got.error}`);
  await page.close();
});

test("a lazy <cvq-img> far below the viewport waits until it is scrolled near", async () => {
  const { page } = await open("/www/tests/element.html");
  const requests = [];
  page.on("request", (r) => { if (r.url().endsWith(".cvq")) requests.push(r.url()); });
  await page.evaluate(() => { document.body.style.paddingTop = "5000px"; });
  await addImage(page, { src: `/${FIXTURES}/kodim23-crop-q3.cvq`, width: 72, height: 56 });
  await page.waitForTimeout(500);
  const before = await page.evaluate(() => document.querySelector("cvq-img").state);
  assert.equal(before, "idle");
  assert.deepEqual(requests, []);
  await page.locator("cvq-img").scrollIntoViewIfNeeded();
  await settled(page);
  assert.equal(await page.evaluate(() => document.querySelector("cvq-img").state), "complete");
  assert.equal(requests.length, 1);
  await page.close();
});

test("the main thread keeps running while the worker decodes a Kodak image", async () => {
  const { page, errors } = await open("/www/tests/element.html");
  // Warm the worker (wasm compiled and instantiated) on a tiny file first.
  await addImage(page, { src: `/${FIXTURES}/kodim23-crop-q3.cvq`, loading: "eager" });
  await settled(page);
  const run = await page.evaluate(() => new Promise((resolve) => {
    const el = document.createElement("cvq-img");
    el.setAttribute("src", "/www/gallery/kodim23-q3.cvq");
    el.setAttribute("loading", "eager");
    let ticks = 0, longest = 0, last = performance.now(), stop = false;
    const tick = () => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      ticks++;
      if (!stop) setTimeout(tick, 10);
    };
    setTimeout(tick, 10);
    const t0 = performance.now();
    const done = (ok) => {
      stop = true;
      resolve({ ok, state: el.state, ms: performance.now() - t0, ticks, longest,
        width: el.querySelector("canvas")?.width });
    };
    el.addEventListener("load", () => done(true));
    el.addEventListener("error", () => done(false));
    document.body.append(el);
  }));
  assert.equal(run.ok, true, errors.join("\n"));
  assert.equal(run.width, 768);
  console.log(`# kodim23 768x512 via worker: ${run.ms.toFixed(0)} ms; main thread: ` +
    `${run.ticks} timer ticks, longest gap ${run.longest.toFixed(0)} ms`);
  // A decode on the main thread would freeze timers for the whole decode (~1 s).
  assert.ok(run.ticks >= run.ms / 100, `only ${run.ticks} ticks in ${run.ms} ms`);
  assert.ok(run.longest < Math.max(250, run.ms / 3), `timer starved for ${run.longest} ms`);
  await page.close();
});
