// The wasm module (`wasm-pack build web --target web`, CPU path: web/pkg, the npm package
// cvq-web) decodes the fixtures to exactly the pixels of the native `cvq decode` (golden
// PNGs made by it), under Node.
//   node --test web/tests/node/        (after wasm-pack build web --target web)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readPng } from "./png.mjs";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const fixture = (name) => readFileSync(here(`../fixtures/${name}`));
const pkg = process.env.CVQ_WEB_PKG ?? here("../../pkg/");
const wasm = await import(`${pkg.replace(/\/?$/, "/")}cvq_web.js`);
wasm.initSync({ module: readFileSync(`${pkg.replace(/\/?$/, "/")}cvq_web_bg.wasm`) });

let t0 = performance.now();
const codec = wasm.Codec.embedded();
console.log(`# model ${codec.id} loaded in ${(performance.now() - t0).toFixed(0)} ms`);

function assertSamePixels(img, pngName) {
  const golden = readPng(fixture(pngName));
  assert.equal(img.width, golden.width);
  assert.equal(img.height, golden.height);
  const got = img.rgba;
  let differing = 0, maxDiff = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - golden.rgba[i]);
    if (d) { differing++; maxDiff = Math.max(maxDiff, d); }
  }
  assert.equal(differing, 0, `${differing} of ${got.length} bytes differ (max ${maxDiff}) from ${pngName}`);
}

test("complete file decodes to the native decoder's pixels", () => {
  t0 = performance.now();
  const img = codec.decode(fixture("kodim23-crop-q3.cvq"));
  console.log(`# decode 72x56: ${(performance.now() - t0).toFixed(1)} ms`);
  assert.equal(img.groupsReceived, 3);
  assertSamePixels(img, "kodim23-crop-q3.cvq.png");
});

test("a prefix decodes to the native --partial preview", () => {
  const img = codec.decodePartial(fixture("kodim23-crop-q3-cut120.cvq"));
  assert.equal(img.groupsReceived, 1);
  assert.equal(img.groups, 3);
  assertSamePixels(img, "kodim23-crop-q3-cut120.cvq.png");
});

test("errors are JS exceptions carrying the typed message", () => {
  assert.throws(() => codec.decode(fixture("kodim23-crop-q3-cut120.cvq")), (e) => e instanceof Error && e.message.length > 0);
  assert.throws(() => codec.decode(new Uint8Array([1, 2, 3])), Error);
  assert.throws(() => new wasm.Codec(new Uint8Array(100)), /model file|CVQM/);
  assert.throws(() => codec.encode(new Uint8Array(8), 2, 2, codec.quality), /bad image/);
});

test("the embedded model is decoder-only: encoding throws a clear error", () => {
  assert.equal(codec.canEncode, false);
  const src = readPng(readFileSync(here("../../../entropy/tests/fixtures/golden/kodim23-crop.png")));
  assert.throws(() => codec.encode(src.rgba, src.width, src.height, codec.quality), /decoder-only/);
});

test("encode in wasm (full .cvqm) round-trips and matches the native encoder's bytes", () => {
  const src = readPng(readFileSync(here("../../../entropy/tests/fixtures/golden/kodim23-crop.png")));
  t0 = performance.now();
  const full = new wasm.Codec(readFileSync(here("../../../models/cvq-compact-q3.cvqm")));
  console.log(`# full model (.cvqm) loaded in ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(full.canEncode, true);
  assert.equal(full.id, codec.id);
  assert.deepEqual(Array.from(full.qualities), [full.quality]);
  assert.throws(() => full.encode(src.rgba, src.width, src.height, 1), /has no quality 1/);
  t0 = performance.now();
  const bytes = full.encode(src.rgba, src.width, src.height, full.quality);
  console.log(`# encode 72x56: ${(performance.now() - t0).toFixed(1)} ms, ${bytes.length} bytes`);
  assertSamePixels(codec.decode(bytes), "kodim23-crop-q3.cvq.png");
  assert.deepEqual(Buffer.from(bytes), fixture("kodim23-crop-q3.cvq"));
});

// The recurrent family (fixture: a tiny model trained 40 steps on the golden crop,
// web/tests/fixtures/rnn-tiny.cvqm; files and PNGs made by the native `cvq`).
test("a recurrent file decodes to the native pixels, whole and after 2 of 4 iterations", () => {
  const rnn = new wasm.Codec(fixture("rnn-tiny.cvqm"));
  assert.equal(rnn.family, "recurrent");
  assert.deepEqual([...rnn.qualities].slice(0, 3), [1, 2, 3]);
  const whole = rnn.decode(fixture("kodim23-crop-rnn4.cvq"));
  assert.equal(whole.groupsReceived, 4);
  assertSamePixels(whole, "kodim23-crop-rnn4.cvq.png");
  const cut = rnn.decodePartial(fixture("kodim23-crop-rnn4-cut69.cvq"));
  assert.deepEqual([cut.groupsReceived, cut.groups], [2, 4]);
  assertSamePixels(cut, "kodim23-crop-rnn4-cut69.cvq.png");
  // decodeEach paints every iteration; the last is the whole decode.
  const painted = [];
  rnn.decodeEach(fixture("kodim23-crop-rnn4.cvq"), (img) => painted.push(img));
  assert.deepEqual(painted.map((img) => img.groupsReceived), [1, 2, 3, 4]);
  assertSamePixels(painted[1], "kodim23-crop-rnn4-cut69.cvq.png");
  assertSamePixels(painted[3], "kodim23-crop-rnn4.cvq.png");
  assert.throws(() => rnn.decode(fixture("kodim23-crop-q3.cvq")), /CVQN model/);
  // A file of the first bit model (entropy kind `Binary`, 81 shared contexts) holds the
  // same codes and still decodes to the same pixels.
  assertSamePixels(rnn.decode(fixture("kodim23-crop-rnn4-counts.cvq")), "kodim23-crop-rnn4.cvq.png");
});

test("a decoder-only recurrent model (.cvqd) decodes the same pixels and cannot encode", () => {
  // `cvq-train decoder-only rnn-tiny.cvqm -o rnn-tiny.cvqd`: 35,831 of 74,452 bytes.
  const full = new wasm.Codec(fixture("rnn-tiny.cvqm"));
  const cut = new wasm.Codec(fixture("rnn-tiny.cvqd"));
  assert.equal(cut.id, full.id, "the cut carries the full model's id");
  assert.equal(cut.family, "recurrent");
  assert.deepEqual([full.canEncode, cut.canEncode], [true, false]);
  assertSamePixels(cut.decode(fixture("kodim23-crop-rnn4.cvq")), "kodim23-crop-rnn4.cvq.png");
  assertSamePixels(cut.decodePartial(fixture("kodim23-crop-rnn4-cut69.cvq")),
    "kodim23-crop-rnn4-cut69.cvq.png");
  const src = readPng(fixture("kodim23-crop-q3.cvq.png"));
  assert.throws(() => cut.encode(src.rgba, src.width, src.height, 1), /decoder-only/);
});

test("a recurrent stream decoded prefix by prefix gives the native pixels at every stage", () => {
  const rnn = new wasm.Codec(fixture("rnn-tiny.cvqm"));
  const file = fixture("kodim23-crop-rnn4.cvq");
  // The header names the model that decodes the file (how the worker picks a model).
  assert.equal(wasm.inspect(file).model, rnn.id);
  assert.equal(wasm.inspect(file.subarray(0, 5)).model, "");
  // Growing prefixes, as a network delivers them: each call continues the last one.
  const seen = new Map();
  for (let end = 1; end < file.length; end += 1) {
    const info = wasm.inspect(file.subarray(0, end));
    if (!info.headerComplete) continue;
    const img = rnn.decodePartial(file.subarray(0, end));
    seen.set(img.groupsReceived, img);
  }
  assertSamePixels(seen.get(2), "kodim23-crop-rnn4-cut69.cvq.png");
  const whole = rnn.decode(file);
  assertSamePixels(whole, "kodim23-crop-rnn4.cvq.png");
  // A second stream of the same file starts over and ends at the same pixels.
  assertSamePixels(rnn.decodePartial(file.subarray(0, 69)), "kodim23-crop-rnn4-cut69.cvq.png");
  assertSamePixels(rnn.decode(file), "kodim23-crop-rnn4.cvq.png");
});
