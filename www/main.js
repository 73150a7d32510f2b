// cvq demo: gallery decode and drag-and-drop encode, all in WebAssembly (CPU path).
// Serve the repository root (python3 -m http.server) and open /www/; the module is the
// wasm-pack output in web/pkg/ (wasm-pack build web --target web).
import init, { Codec } from "../web/pkg/web.js";

const GALLERY = ["gallery/kodim23-crop-q3.cvq", "gallery/kodim23-q3.cvq"];
const $ = (id) => document.getElementById(id);
const status = (msg, error = false) => {
  $("status").textContent = msg;
  $("status").className = error ? "error" : "";
};

function paint(canvas, img) {
  canvas.width = img.width;
  canvas.height = img.height;
  canvas.getContext("2d").putImageData(new ImageData(img.rgba, img.width, img.height), 0, 0);
}

function figure(parent, caption) {
  const fig = document.createElement("figure");
  const canvas = document.createElement("canvas");
  const cap = document.createElement("figcaption");
  cap.textContent = caption;
  fig.append(canvas, cap);
  parent.append(fig);
  return { canvas, cap };
}

// Yield to the browser so the status text paints before a long synchronous decode.
const frame = () => new Promise((r) => setTimeout(r, 0));

async function decodeInto(codec, url, parent) {
  const { canvas, cap } = figure(parent, url);
  canvas.dataset.src = url;
  try {
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    await frame();
    const t0 = performance.now();
    const img = codec.decode(bytes);
    const ms = performance.now() - t0;
    paint(canvas, img);
    const bpp = (bytes.length * 8) / (img.width * img.height);
    cap.textContent = `${url}: ${img.width}×${img.height}, ${bytes.length} B, ` +
      `${bpp.toFixed(3)} bpp, decoded in ${ms.toFixed(0)} ms`;
    canvas.dataset.decodeMs = ms.toFixed(1);
    canvas.dataset.state = "done";
  } catch (e) {
    cap.textContent = `${url}: ${e.message}`;
    cap.className = "error";
    canvas.dataset.state = "error";
    canvas.dataset.error = e.message;
  }
}

function psnr(a, b) {
  let se = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    if (i % 4 === 3) continue;
    se += (a[i] - b[i]) ** 2;
    n++;
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255 * n) / se);
}

async function encodeFile(codec, file) {
  const bitmap = await createImageBitmap(file);
  const { canvas: src, cap: srcCap } = figure($("encoded"), `original: ${file.name}`);
  src.width = bitmap.width;
  src.height = bitmap.height;
  const ctx = src.getContext("2d");
  ctx.drawImage(bitmap, 0, 0);
  const pixels = ctx.getImageData(0, 0, src.width, src.height);
  srcCap.textContent = `original: ${file.name} (${src.width}×${src.height})`;
  status(`encoding ${file.name}…`);
  await frame();
  try {
    let t0 = performance.now();
    const bytes = codec.encode(pixels.data, src.width, src.height, codec.quality);
    const encMs = performance.now() - t0;
    t0 = performance.now();
    const back = codec.decode(bytes);
    const decMs = performance.now() - t0;
    const { canvas, cap } = figure($("encoded"), "decoded");
    paint(canvas, back);
    canvas.dataset.state = "encoded";
    canvas.dataset.bytes = String(bytes.length);
    canvas.dataset.encodeMs = encMs.toFixed(1);
    const bpp = (bytes.length * 8) / (src.width * src.height);
    cap.textContent = `cvq q${codec.quality}: ${bytes.length} B, ${bpp.toFixed(3)} bpp, ` +
      `PSNR ${psnr(pixels.data, back.rgba).toFixed(2)} dB, encode ${encMs.toFixed(0)} ms, ` +
      `decode ${decMs.toFixed(0)} ms`;
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
    a.download = file.name.replace(/\.[^.]*$/, "") + ".cvq";
    a.textContent = "download .cvq";
    cap.append(" — ", a);
    status("ready");
  } catch (e) {
    document.body.dataset.encodeError = e.message;
    status(`encoding failed: ${e.message}`, true);
  }
}

async function main() {
  await init();
  const t0 = performance.now();
  const codec = Codec.embedded();
  window.cvqCodec = codec;
  status(`model ${codec.id} (quality ${codec.quality}) loaded in ` +
    `${(performance.now() - t0).toFixed(0)} ms`);
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    for (const f of e.dataTransfer.files) encodeFile(codec, f);
  });
  $("file").addEventListener("change", (e) => {
    for (const f of e.target.files) encodeFile(codec, f);
  });
  const only = new URLSearchParams(location.search).getAll("src");
  for (const url of only.length ? only : GALLERY) await decodeInto(codec, url, $("gallery"));
  document.body.dataset.ready = "1";
}

main().catch((e) => {
  status(`failed: ${e.message}`, true);
  document.body.dataset.ready = "error";
});
