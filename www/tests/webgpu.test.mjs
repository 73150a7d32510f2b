// The WebGPU path in headless chromium (SwiftShader's software adapter here; a hardware
// adapter elsewhere): `GpuCodec` decodes the golden file with synthesis on the GPU and
// must stay within PSNR ≥ 45 dB of the native decoder (float kernels differ in rounding;
// the symbols are identical because entropy decoding runs in wasm on the CPU); the
// worker's "webgpu" backend drives <cvq-img> the same way; a recurrent file (the page's
// model, not the embedded one) decodes on WebGPU too. Needs a build with the
// `webgpu` feature (.ci/run). Fails when chromium offers no adapter, unless
// CVQ_ALLOW_NO_WEBGPU=1. Screenshot: www/test-results/webgpu.png.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { useBrowser, open, png, canvasPixels, artifacts } from "./harness.mjs";

useBrowser();

const FIXTURES = "web/tests/fixtures";

/** PSNR (dB) over R, G, B of two RGBA arrays. */
function psnr(a, b) {
  assert.equal(a.length, b.length);
  let sum = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    if (i % 4 === 3) continue;
    sum += (a[i] - b[i]) ** 2;
    n++;
  }
  return sum === 0 ? Infinity : 10 * Math.log10((255 * 255) / (sum / n));
}

/** Whether the page's browser offers a WebGPU adapter; describes it. */
async function adapter(page) {
  return page.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter();
    return a ? { found: true, vendor: a.info?.vendor, arch: a.info?.architecture,
      description: a.info?.description, fallback: a.info?.isFallbackAdapter } : { found: false };
  });
}

function requireAdapter(found, t) {
  if (found) return true;
  if (process.env.CVQ_ALLOW_NO_WEBGPU === "1") {
    t.skip("no WebGPU adapter in this browser (CVQ_ALLOW_NO_WEBGPU=1)");
    return false;
  }
  assert.fail("chromium offers no WebGPU adapter (set CVQ_ALLOW_NO_WEBGPU=1 to skip)");
}

test("GpuCodec decodes within 45 dB of the native decoder (full file and preview)", async (t) => {
  const { page, errors } = await open("/www/tests/element.html");
  const info = await adapter(page);
  if (!requireAdapter(info.found, t)) return;
  console.log(`# adapter: ${JSON.stringify(info)}`);
  const got = await page.evaluate(async (fixtures) => {
    const wasm = await import("/www/node_modules/cvq-web/webgpu/cvq_web.js");
    await wasm.default();
    if (!wasm.GpuCodec) return { error: "cvq-web's webgpu/ build lacks the webgpu feature" };
    let t0 = performance.now();
    const gpu = await wasm.GpuCodec.create();
    const createMs = performance.now() - t0;
    const bytes = async (p) => new Uint8Array(await (await fetch(p)).arrayBuffer());
    const out = { adapter: gpu.adapter, id: gpu.id, createMs, runs: [] };
    for (const [file, partial] of [["kodim23-crop-q3.cvq", false], ["kodim23-crop-q3-cut150.cvq", true]]) {
      const b = await bytes(`/${fixtures}/${file}`);
      t0 = performance.now();
      const img = partial ? await gpu.decodePartial(b) : await gpu.decode(b);
      out.runs.push({ file, ms: performance.now() - t0, width: img.width, height: img.height,
        groupsReceived: img.groupsReceived, rgba: Array.from(img.rgba) });
    }
    // Corrupt input is rejected before anything reaches the GPU.
    try {
      await gpu.decode(new Uint8Array([67, 86, 81, 1, 2, 3]));
      out.corrupt = "no error";
    } catch (e) {
      out.corrupt = e.message;
    }
    return out;
  }, FIXTURES);
  assert.equal(got.error, undefined, got.error);
  console.log(`# GpuCodec.create ${got.createMs.toFixed(0)} ms (wgpu: ${got.adapter})`);
  for (const [run, golden, groups] of [[got.runs[0], "kodim23-crop-q3.cvq.png", 3],
    [got.runs[1], "kodim23-crop-q3-cut150.cvq.png", 1]]) {
    const want = png(`${FIXTURES}/${golden}`);
    assert.equal(run.width, want.width);
    assert.equal(run.height, want.height);
    assert.equal(run.groupsReceived, groups);
    const db = psnr(run.rgba, want.rgba);
    console.log(`# ${run.file}: ${run.ms.toFixed(0)} ms, PSNR vs native ${db.toFixed(2)} dB`);
    assert.ok(db >= 45, `${run.file}: PSNR ${db.toFixed(2)} dB vs the native decoder (< 45)`);
  }
  assert.match(got.corrupt, /reserved|truncated|magic|version|CRC/i);
  assert.deepEqual(errors, []);
  await page.close();
});

test("the worker's webgpu backend drives <cvq-img> (PSNR ≥ 45 dB vs native)", async (t) => {
  const { page, errors } = await open("/www/tests/element.html");
  const info = await adapter(page);
  if (!requireAdapter(info.found, t)) return;
  const got = await page.evaluate(async (fixtures) => {
    const { configure, client } = await import("/www/node_modules/cvq-web/cvq-client.js");
    configure({ backend: "webgpu" });
    const backend = (await client().info()).backend;
    const el = document.createElement("cvq-img");
    el.setAttribute("src", `/${fixtures}/kodim23-crop-q3.cvq`);
    el.setAttribute("loading", "eager");
    const done = new Promise((resolve) => {
      el.addEventListener("load", () => resolve("load"));
      el.addEventListener("error", (e) => resolve(`error: ${e.message}`));
    });
    document.body.append(el);
    return { backend, outcome: await done };
  }, FIXTURES);
  assert.match(got.backend, /^WebGPU \(/);
  assert.equal(got.outcome, "load");
  const canvas = await canvasPixels(page, "cvq-img canvas");
  const db = psnr(canvas.rgba, png(`${FIXTURES}/kodim23-crop-q3.cvq.png`).rgba);
  console.log(`# worker on ${got.backend}: <cvq-img> PSNR vs native ${db.toFixed(2)} dB`);
  assert.ok(db >= 45, `PSNR ${db.toFixed(2)} dB`);
  await page.locator("cvq-img").screenshot({ path: join(artifacts, "webgpu.png") });
  assert.deepEqual(errors, []);
  await page.close();
});

test("GpuCodec decodes a recurrent file on WebGPU, iteration 2 then 4 (PSNR ≥ 45 dB vs native)", async (t) => {
  const { page, errors } = await open("/www/tests/element.html");
  const info = await adapter(page);
  if (!requireAdapter(info.found, t)) return;
  const got = await page.evaluate(async (fixtures) => {
    const wasm = await import("/www/node_modules/cvq-web/webgpu/cvq_web.js");
    await wasm.default();
    const bytes = async (p) => new Uint8Array(await (await fetch(p)).arrayBuffer());
    const gpu = await wasm.GpuCodec.create(await bytes(`/${fixtures}/rnn-tiny.cvqm`));
    const out = { id: gpu.id, runs: [] };
    // The prefix first, then the whole file: the second call continues the first's
    // stream (cell states kept on the GPU) and runs only iterations 3 and 4.
    for (const [file, partial] of [["kodim23-crop-rnn4-cut69.cvq", true], ["kodim23-crop-rnn4.cvq", false]]) {
      const b = await bytes(`/${fixtures}/${file}`);
      const t0 = performance.now();
      const img = partial ? await gpu.decodePartial(b) : await gpu.decode(b);
      out.runs.push({ file, ms: performance.now() - t0, width: img.width, height: img.height,
        groupsReceived: img.groupsReceived, groups: img.groups, rgba: Array.from(img.rgba) });
    }
    return out;
  }, FIXTURES);
  assert.match(got.id, /^rnn-tiny#[0-9a-f]{16}$/);
  for (const [run, golden, received] of [[got.runs[0], "kodim23-crop-rnn4-cut69.cvq.png", 2],
    [got.runs[1], "kodim23-crop-rnn4.cvq.png", 4]]) {
    const want = png(`${FIXTURES}/${golden}`);
    assert.equal(run.width, want.width);
    assert.equal(run.height, want.height);
    assert.equal(run.groupsReceived, received);
    assert.equal(run.groups, 4);
    const db = psnr(run.rgba, want.rgba);
    console.log(`# ${run.file}: ${run.ms.toFixed(0)} ms, PSNR vs native ${db.toFixed(2)} dB`);
    assert.ok(db >= 45, `${run.file}: PSNR ${db.toFixed(2)} dB vs the native decoder (< 45)`);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test("the worker's webgpu backend decodes the page's recurrent model into <cvq-img>", async (t) => {
  const { page, errors } = await open("/www/tests/element.html");
  const info = await adapter(page);
  if (!requireAdapter(info.found, t)) return;
  const got = await page.evaluate(async (fixtures) => {
    const { configure, client } = await import("/www/node_modules/cvq-web/cvq-client.js");
    configure({ backend: "webgpu", models: { "rnn-tiny": `/${fixtures}/rnn-tiny.cvqm` } });
    const bytes = new Uint8Array(await (await fetch(`/${fixtures}/kodim23-crop-rnn4.cvq`)).arrayBuffer());
    const decoded = await client().decode(bytes);
    const el = document.createElement("cvq-img");
    el.setAttribute("src", `/${fixtures}/kodim23-crop-rnn4.cvq`);
    el.setAttribute("loading", "eager");
    const done = new Promise((resolve) => {
      el.addEventListener("load", () => resolve("load"));
      el.addEventListener("error", (e) => resolve(`error: ${e.message}`));
    });
    document.body.append(el);
    return { backend: decoded.backend, groups: decoded.groupsReceived, outcome: await done };
  }, FIXTURES);
  assert.match(got.backend, /^WebGPU \(/, "decoded on the WebGPU path");
  assert.equal(got.groups, 4);
  assert.equal(got.outcome, "load");
  const canvas = await canvasPixels(page, "cvq-img canvas");
  const db = psnr(canvas.rgba, png(`${FIXTURES}/kodim23-crop-rnn4.cvq.png`).rgba);
  console.log(`# recurrent file, worker on ${got.backend}: <cvq-img> PSNR vs native ${db.toFixed(2)} dB`);
  assert.ok(db >= 45, `PSNR ${db.toFixed(2)} dB`);
  assert.deepEqual(errors, []);
  await page.close();
});
