// Encode panel: a dropped or picked image is encoded by the worker with the picked codec
// family (a CVQN model — the default, another rate point or an MS-SSIM-tuned one — or the
// recurrent model at a chosen iteration count),
// decoded back, measured (PSNR, MS-SSIM) and set against JPEG and WebP of at most the same
// size, in a table and a before/after slider. Progress and errors go to `status`.
import { fitToBudget, pixelsOf } from "./formats.js";
import { createSlider } from "./slider.js";

const $ = (id) => document.getElementById(id);
const BROWSER_FORMATS = [["JPEG", "image/jpeg"], ["WebP", "image/webp"]];
let download = null; // object URL of the current .cvq, revoked when replaced

/**
 * Wires the drop zone, the file input and the pickers to `cvq` (a CvqClient). Changing
 * the family, the CVQN model or the iteration count encodes the last image again.
 * @param {import("./node_modules/cvq-web/cvq-client.js").CvqClient} cvq
 * @param {(message: string, error?: boolean) => void} status
 * @param {{recurrent: string, cvqn: {key: string|null, label: string}[]}} models  the
 *   recurrent model's and the CVQN models' keys in `configure({models})` (`null`: the
 *   default model), with the CVQN models' labels for the picker
 */
export function setupEncodePanel(cvq, status, models) {
  $("cvqn-model").replaceChildren(...models.cvqn.map((m) =>
    new Option(m.label, m.key ?? "", m.key === null, m.key === null)));
  const drop = $("drop");
  let queue = Promise.resolve();
  let last = null;
  const run = (file) => {
    last = file;
    queue = queue.then(async () => encodeFile(cvq, file, await choice(cvq, models), status));
  };
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const file = [...e.dataTransfer.files].find((f) => f.type.startsWith("image/"));
    if (file) run(file); else status("that is not an image file", true);
  });
  $("file").addEventListener("change", (e) => {
    if (e.target.files[0]) run(e.target.files[0]);
  });
  const again = () => { if (last) run(last); };
  $("family").addEventListener("change", async () => {
    const recurrent = $("family").value === "recurrent";
    $("iterations-label").hidden = !recurrent;
    $("cvqn-model-label").hidden = recurrent;
    if (recurrent && !$("iterations").options.length) {
      try {
        await fillIterations(cvq, models.recurrent);
      } catch (e) {
        status(`recurrent model: ${e.message}`, true);
        return;
      }
    }
    again();
  });
  $("iterations").addEventListener("change", again);
  $("cvqn-model").addEventListener("change", again);
}

/** Fills the iteration picker from the recurrent model (fetched on first use). */
async function fillIterations(cvq, name) {
  const info = await cvq.modelInfo(name);
  const pick = Math.min(4, info.quality);
  $("iterations").replaceChildren(...info.qualities.map((t) =>
    new Option(`${t} (${(t * 0.125).toFixed(3)} bpp before entropy coding)`, String(t),
      t === pick, t === pick)));
}

/**
 * The encode options the pickers ask for: {} (default model), {model} (another CVQN
 * model) or {model, quality} (the recurrent model's iteration count).
 */
async function choice(cvq, models) {
  if ($("family").value !== "recurrent") {
    const key = $("cvqn-model").value;
    return key ? { model: key } : {};
  }
  if (!$("iterations").options.length) await fillIterations(cvq, models.recurrent);
  return { model: models.recurrent, quality: Number($("iterations").value) };
}

/** The file's pixels on a canvas (kept: JPEG/WebP are encoded from it). */
async function load(file) {
  const bitmap = await createImageBitmap(file);
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
  return { canvas, image: { width: canvas.width, height: canvas.height, rgba: data } };
}

async function encodeFile(cvq, file, options, status) {
  const result = $("result");
  result.dataset.state = "working";
  delete result.dataset.error;
  try {
    status(`reading ${file.name}…`);
    const { canvas, image } = await load(file);
    const { width, height } = image;
    const pixels = width * height;
    status(`encoding ${file.name} (${width}×${height}) in the worker…`);
    const enc = await cvq.encode(image.rgba, width, height, options);
    status("decoding it back…");
    const dec = await cvq.decode(enc.bytes);
    const setting = enc.family === "recurrent" ? `${enc.quality} iterations`
      : (options.model ?? `q${enc.quality}`);
    const rows = [{ format: "cvq", setting, bytes: enc.bytes.length,
      fits: true, image: dec, metrics: await cvq.compare(image.rgba, dec.rgba, width, height) }];
    for (const [format, type] of BROWSER_FORMATS) {
      status(`making the ${format} of at most ${enc.bytes.length} B…`);
      rows.push(await browserRow(cvq, canvas, image, format, type, enc.bytes.length));
    }
    show({ file, image, enc, dec, rows, pixels });
    result.dataset.state = "done";
    status(`${file.name}: done — drag the divider to compare.`);
  } catch (e) {
    result.dataset.state = "error";
    result.dataset.error = e.message;
    status(`${file.name}: ${e.message}`, true);
  }
}

/** One table row for a browser format: the largest file within `budget`, measured. */
async function browserRow(cvq, canvas, original, format, type, budget) {
  try {
    const { blob, quality, fits } = await fitToBudget(canvas, type, budget);
    const image = await pixelsOf(blob);
    const metrics = await cvq.compare(original.rgba, image.rgba, image.width, image.height);
    return { format, setting: `quality ${quality.toFixed(3)}`, bytes: blob.size, fits,
      image, metrics };
  } catch (e) {
    return { format, error: e.message };
  }
}

const fmt = (x, digits) => (x === undefined || x === null ? "–"
  : Number.isFinite(x) ? x.toFixed(digits) : String(x));

function show({ file, image, enc, dec, rows, pixels }) {
  const { width, height } = image;
  const cvqBytes = enc.bytes.length;
  $("summary").textContent = `${file.name}: ${width}×${height} → ${cvqBytes} B ` +
    `(${fmt((cvqBytes * 8) / pixels, 4)} bpp) with model ${enc.id}; encode ` +
    `${fmt(enc.ms, 0)} ms, decode ${fmt(dec.ms, 0)} ms; encoded on ${enc.backend}, decoded on ${dec.backend}.` +
    (enc.gpuError ? ` (WebGPU could not encode: ${enc.gpuError})` : "");
  const body = $("formats").tBodies[0];
  body.replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.format = r.format.toLowerCase();
    if (r.error) {
      tr.dataset.error = r.error;
      tr.append(cell(r.format), Object.assign(cell(r.error), { colSpan: 5 }));
      return tr;
    }
    tr.dataset.bytes = String(r.bytes);
    tr.dataset.fits = String(r.fits);
    if (!r.fits) {
      tr.className = "over";
      tr.title = `even quality 0 is larger than the ${cvqBytes} B cvq file`;
    }
    tr.append(cell(r.format), cell(r.fits ? r.setting : `${r.setting} (over budget)`),
      cell(String(r.bytes)), cell(fmt((r.bytes * 8) / pixels, 4)),
      cell(fmt(r.metrics.psnr, 2)), cell(fmt(r.metrics.msSsim, 4)));
    return tr;
  }));

  const slider = createSlider($("slider"), { label: "cvq", image: dec });
  const choices = [{ label: "original", image }, ...rows.filter((r) => r.image && !r.error &&
    r.format !== "cvq").map((r) => ({ label: `${r.format} ${r.bytes} B`, image: r.image }))];
  const select = $("left");
  select.replaceChildren(...choices.map((c, i) => new Option(c.label, String(i))));
  select.onchange = () => slider.setLeft(choices[select.value].label,
    choices[select.value].image);
  select.onchange();

  if (download) URL.revokeObjectURL(download);
  download = URL.createObjectURL(new Blob([enc.bytes], { type: "application/octet-stream" }));
  const a = $("download");
  a.href = download;
  a.download = file.name.replace(/\.[^.]*$/, "") + ".cvq";
  a.textContent = `download ${a.download} (${cvqBytes} B)`;
  $("result").hidden = false;
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}
