// The WebGPU path in headless chromium (SwiftShader's software adapter here; a hardware
// adapter elsewhere): `GpuCodec` decodes the golden file with synthesis on the GPU and
// must stay within PSNR ≥ 45 dB of the native decoder (float kernels differ in rounding;
// the symbols are identical because entropy decoding runs in wasm on the CPU); the
// worker's "webgpu" backend drives <cvq-img> the same way; a recurrent file (the page's
// model, not the embedded one) decodes on WebGPU too; `GpuCodec.encode` (the encoder on
// the GPU) writes CVQN and recurrent files that the native `cvq decode` and the wasm CPU
// path decode to identical pixels, and the worker encodes there while WebGPU is in use
// (needs the native binary: target/debug/cvq, which `cargo test --workspace` builds, or
// CVQ_BIN). Needs a build with the
// `webgpu` feature (.ci/run). Fails when chromium offers no adapter, unless
// CVQ_ALLOW_NO_WEBGPU=1. Screenshot: www/test-results/webgpu.png.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync, writeFileSync, readFileSync } from "node:fs";
import { useBrowser, open, png, canvasPixels, artifacts, root, differing } from "./harness.mjs";
import { readPng } from "../../web/tests/node/png.mjs";

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
    for (const [file, partial] of [["kodim23-crop-q3.cvq", false], ["kodim23-crop-q3-cut120.cvq", true]]) {
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
    [got.runs[1], "kodim23-crop-q3-cut120.cvq.png", 1]]) {
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

/** The native `cvq` binary: CVQ_BIN, else the newer of target/debug/cvq and target/release/cvq. */
function nativeCvq() {
  if (process.env.CVQ_BIN) return process.env.CVQ_BIN;
  const found = ["target/debug/cvq", "target/release/cvq"].map((p) => join(root, p))
    .filter(existsSync).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  assert.ok(found.length, "the native cvq binary is missing: cargo build -p cvq (or set CVQ_BIN)");
  return found[0];
}

/** The native decoder's RGBA of `.cvq` bytes (saved as `name` in the artifacts folder). */
function nativeDecode(bytes, name, args = []) {
  mkdirSync(artifacts, { recursive: true });
  const file = join(artifacts, name);
  writeFileSync(file, Uint8Array.from(bytes));
  execFileSync(nativeCvq(), ["decode", file, "-o", `${file}.png`, ...args], { stdio: "pipe" });
  return readPng(readFileSync(`${file}.png`));
}

/** Bytes at which two files differ, and their lengths. */
function fileDiff(a, b) {
  let n = Math.abs(a.length - b.length);
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) n++;
  return `${a.length} vs ${b.length} B, ${n} bytes differ`;
}

const INPUT = `${FIXTURES}/kodim23-crop-q3.cvq.png`; // any photo: 72×56

/** The input image, as page.evaluate can pass it. */
function inputImage() {
  const { width, height, rgba } = png(INPUT);
  return { width, height, rgba: Array.from(rgba) };
}

test("GpuCodec encodes on WebGPU: CVQN and recurrent files that decode to the native pixels", async (t) => {
  const { page, errors } = await open("/www/tests/element.html");
  const info = await adapter(page);
  if (!requireAdapter(info.found, t)) return;
  const input = inputImage();
  const got = await page.evaluate(async ({ fixtures, input }) => {
    const wasm = await import("/www/node_modules/cvq-web/webgpu/cvq_web.js");
    await wasm.default();
    const bytes = async (p) => new Uint8Array(await (await fetch(p)).arrayBuffer());
    const rgba = Uint8Array.from(input.rgba);
    const { width: w, height: h } = input;
    const out = {};
    for (const [name, url, quality] of [["cvqn", "/models/cvq-compact-q3.cvqm", 3],
      ["rnn", `/${fixtures}/rnn-tiny.cvqm`, 4]]) {
      const model = await bytes(url);
      const gpu = await wasm.GpuCodec.create(model);
      const cpu = new wasm.Codec(model);
      const t0 = performance.now();
      const file = await gpu.encode(rgba, w, h, quality);
      const ms = performance.now() - t0;
      const cpuFile = cpu.encode(rgba, w, h, quality);
      const onCpu = cpu.decode(file);
      const onGpu = await gpu.decode(file);
      out[name] = { canEncode: gpu.canEncode, ms, file: Array.from(file),
        cpuFile: Array.from(cpuFile), groups: onCpu.groupsReceived,
        cpuRgba: Array.from(onCpu.rgba), gpuRgba: Array.from(onGpu.rgba) };
    }
    const embedded = await wasm.GpuCodec.create();
    out.embeddedCanEncode = embedded.canEncode;
    try {
      await embedded.encode(rgba, w, h, 3);
      out.decoderOnly = "no error";
    } catch (e) {
      out.decoderOnly = e.message;
    }
    try {
      await embedded.encode(rgba.subarray(1), w, h, 3);
      out.badBuffer = "no error";
    } catch (e) {
      out.badBuffer = e.message;
    }
    return out;
  }, { fixtures: FIXTURES, input });
  for (const [name, args, groups] of [["cvqn", [], 3],
    ["rnn", ["--model", join(root, FIXTURES, "rnn-tiny.cvqm")], 4]]) {
    const r = got[name];
    assert.equal(r.canEncode, true);
    assert.equal(r.groups, groups);
    const native = nativeDecode(r.file, `webgpu-encoded-${name}.cvq`, args);
    const cpuPath = nativeDecode(r.cpuFile, `cpu-encoded-${name}.cvq`, args);
    assert.equal(native.width, input.width);
    assert.equal(native.height, input.height);
    // The GPU's file decodes to exactly the native pixels on the wasm CPU path.
    assert.equal(differing(r.cpuRgba, native.rgba), 0, `${name}: wasm CPU decode ≠ native decode`);
    const gpuDb = psnr(r.gpuRgba, native.rgba);
    // Its quality is the CPU encoder's (a float tie may change a symbol, not the image).
    const [a, b] = [psnr(native.rgba, input.rgba), psnr(cpuPath.rgba, input.rgba)];
    console.log(`# ${name}: GPU encode ${r.ms.toFixed(0)} ms; GPU file vs CPU file: ` +
      `${fileDiff(r.file, r.cpuFile)}; PSNR vs input ${a.toFixed(2)} dB (CPU file ${b.toFixed(2)} dB); ` +
      `WebGPU decode vs native ${gpuDb.toFixed(2)} dB`);
    assert.ok(gpuDb >= 45, `${name}: WebGPU decode PSNR ${gpuDb.toFixed(2)} dB vs native`);
    assert.ok(Math.abs(a - b) < 0.5, `${name}: PSNR ${a} (GPU file) vs ${b} (CPU file)`);
    assert.ok(Math.abs(r.file.length - r.cpuFile.length) <= 8 + r.cpuFile.length / 20,
      `${name}: ${fileDiff(r.file, r.cpuFile)}`);
  }
  assert.equal(got.embeddedCanEncode, false);
  assert.match(got.decoderOnly, /decoder-only/);
  assert.match(got.badBuffer, /RGBA image needs 4·w·h bytes/);
  assert.deepEqual(errors, []);
  await page.close();
});

test("the worker encodes on WebGPU while it is in use", async (t) => {
  const { page, errors } = await open("/www/tests/element.html");
  const info = await adapter(page);
  if (!requireAdapter(info.found, t)) return;
  const input = inputImage();
  const got = await page.evaluate(async (input) => {
    const { configure, client } = await import("/www/node_modules/cvq-web/cvq-client.js");
    configure({ backend: "webgpu", modelUrl: "/models/cvq-compact-q3.cvqm" });
    const r = await client().encode(Uint8Array.from(input.rgba), input.width, input.height);
    return { backend: r.backend, gpuError: r.gpuError ?? null, id: r.id, bytes: Array.from(r.bytes) };
  }, input);
  assert.match(got.backend, /^WebGPU \(/, "encoded on the WebGPU path");
  assert.equal(got.gpuError, null);
  assert.match(got.id, /^cvq-compact#/);
  const native = nativeDecode(got.bytes, "webgpu-worker-encoded.cvq");
  const db = psnr(native.rgba, input.rgba);
  console.log(`# worker on ${got.backend}: ${got.bytes.length} B, native decode PSNR vs input ${db.toFixed(2)} dB`);
  assert.ok(db > 15, `PSNR ${db.toFixed(2)} dB`);
  assert.deepEqual(errors, []);
  await page.close();
});

test("GpuCodec and the worker decode in tiles on WebGPU (every pixel once, PSNR ≥ 45 dB vs native)", async (t) => {
  const { page, errors } = await open("/www/tests/element.html");
  const info = await adapter(page);
  if (!requireAdapter(info.found, t)) return;
  const got = await page.evaluate(async (fixtures) => {
    const bytes = new Uint8Array(await (await fetch(`/${fixtures}/kodim23-crop-q3.cvq`)).arrayBuffer());
    const out = {};
    // 72×56 in 16-px tiles: 5 × 4 tiles, the last column and row cropped.
    const stitch = () => {
      const img = { width: 72, height: 56, rgba: new Array(4 * 72 * 56).fill(0), painted: new Array(72 * 56).fill(0), tiles: 0 };
      img.paint = ({ x, y, width, height, rgba }) => {
        img.tiles++;
        for (let r = 0; r < height; r++) {
          for (let c = 0; c < width; c++) {
            const at = (y + r) * 72 + x + c;
            img.painted[at]++;
            for (let k = 0; k < 4; k++) img.rgba[4 * at + k] = rgba[4 * (r * width + c) + k];
          }
        }
      };
      return img;
    };
    const wasm = await import("/www/node_modules/cvq-web/webgpu/cvq_web.js");
    await wasm.default();
    const gpu = await wasm.GpuCodec.create();
    const direct = stitch();
    const t0 = performance.now();
    const count = await gpu.decodeTiles(bytes, 16, false, (tile) => {
      direct.paint({ x: tile.x, y: tile.y, width: tile.width, height: tile.height, rgba: tile.rgba });
      tile.free();
    });
    const plain = ({ rgba, painted, tiles }) => ({ rgba, painted, tiles });
    out.direct = { count, ms: performance.now() - t0, ...plain(direct) };
    const { configure, client } = await import("/www/node_modules/cvq-web/cvq-client.js");
    configure({ backend: "webgpu" });
    const viaWorker = stitch();
    const r = await client().decodeTiles(bytes, viaWorker.paint, { tile: 16 });
    out.worker = { count: r.tiles, backend: r.backend, ...plain(viaWorker) };
    return out;
  }, FIXTURES);
  const want = png(`${FIXTURES}/kodim23-crop-q3.cvq.png`);
  for (const [name, run] of [["GpuCodec", got.direct], ["worker", got.worker]]) {
    assert.equal(run.count, 20, `${name}: tiles`);
    assert.equal(run.tiles, 20, `${name}: tiles painted`);
    assert.ok(run.painted.every((n) => n === 1), `${name}: every pixel painted once`);
    const db = psnr(run.rgba, want.rgba);
    console.log(`# ${name}: 20 tiles of 16 px on WebGPU${run.ms ? ` in ${run.ms.toFixed(0)} ms` : ""}, PSNR vs native ${db.toFixed(2)} dB`);
    assert.ok(db >= 45, `${name}: PSNR ${db.toFixed(2)} dB`);
  }
  assert.match(got.worker.backend, /^WebGPU \(/);
  assert.deepEqual(errors, []);
  await page.close();
});
