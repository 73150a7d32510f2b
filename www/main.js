// cvq demo page: the Kodak gallery as <cvq-img> elements and the encode panel; all codec
// work happens in the worker of the npm package cvq-web (installed into
// www/node_modules by scripts/build-web.sh, as a user installs it). Serve the repository
// root and open /www/.
//   ?src=FILE.cvq (repeatable) shows only those files, loaded at once (used by the tests).
//   ?backend=auto|webgpu|cpu picks where synthesis runs (cvq-client.js `config.backend`).
import { client, configure } from "./node_modules/cvq-web/cvq-client.js";
import "./node_modules/cvq-web/cvq-img.js";
import { setupEncodePanel } from "./encode-panel.js";

/** The full model for the encode panel (the package embeds only a decoder-only one). */
const MODEL_URL = "../models/cvq-compact-q3.cvqm";
/** The recurrent family's model: encodes when picked, decodes its files (gallery too). */
const RECURRENT = { name: "cvq-rnn", url: "../models/cvq-rnn.cvqm" };

/**
 * The CVQN models the encode panel offers (Kodak means from cvq-bench, README), lowest
 * rate first. `key`: its name in `configure({models})` (they all share the model name
 * `cvq-compact`, so they are keyed by setting); `null` for the default model.
 */
const CVQN_MODELS = [
  ["q1", "cvq-compact-q1", "PSNR-tuned, Kodak 0.070 bpp, 23.55 dB"],
  ["q2", "cvq-compact-q2", "PSNR-tuned, Kodak 0.096 bpp, 24.16 dB"],
  [null, "cvq-compact-q3", "PSNR-tuned, the default, Kodak 0.126 bpp, 24.65 dB"],
  ["q4", "cvq-compact-q4", "PSNR-tuned, Kodak 0.168 bpp, 24.94 dB"],
  ["q5", "cvq-compact-q5", "PSNR-tuned, Kodak 0.184 bpp, 25.25 dB"],
  ["ms-ssim-q1", "cvq-compact-ssim-q1", "MS-SSIM-tuned, Kodak 0.047 bpp, MS-SSIM 0.824"],
  ["ms-ssim-q2", "cvq-compact-ssim-q2", "MS-SSIM-tuned, Kodak 0.082 bpp, MS-SSIM 0.861"],
  ["ms-ssim-q3", "cvq-compact-ssim-q3", "MS-SSIM-tuned, Kodak 0.163 bpp, MS-SSIM 0.903"],
  ["ms-ssim-q4", "cvq-compact-ssim-q4", "MS-SSIM-tuned, Kodak 0.195 bpp, MS-SSIM 0.916"],
].map(([key, file, note]) => ({ key, url: `../models/${file}.cvqm`,
  label: `${key ?? "q3"} (${note})` }));

const MANIFEST = "gallery/kodak/index.json";
/** Shown when the manifest is missing: the two files committed before the Kodak set. */
const FALLBACK = [{ file: "gallery/kodim23-q3.cvq" }, { file: "gallery/kodim23-crop-q3.cvq" }];

const $ = (id) => document.getElementById(id);
/** Returns a function that shows a message (red when `error`) in the element `id`. */
const statusLine = (id) => (msg, error = false) => {
  $(id).textContent = msg;
  $(id).className = error ? "error" : "";
};
const status = statusLine("status");

/** Manifest entries ({file, width, height, bytes, bpp, psnr, msSsim}, file resolved). */
async function entries() {
  const only = new URLSearchParams(location.search).getAll("src");
  if (only.length) return { list: only.map((file) => ({ file })), eager: true };
  const res = await fetch(MANIFEST);
  if (!res.ok) return { list: FALLBACK, eager: false };
  const base = new URL(MANIFEST, location.href);
  const list = (await res.json()).map((e) => ({ ...e, file: new URL(e.file, base).href }));
  return { list, eager: false };
}

/** Caption from the manifest's numbers, or from the file's header once loaded. */
function caption(entry, img) {
  const name = entry.file.split("/").pop();
  if (entry.psnr !== undefined) {
    return `${name}: ${entry.width}×${entry.height}, ${entry.bytes} B, ` +
      `${entry.bpp.toFixed(3)} bpp, PSNR ${entry.psnr.toFixed(2)} dB, ` +
      `MS-SSIM ${entry.msSsim.toFixed(4)}`;
  }
  const info = img.info;
  if (!info) return name;
  return `${name}: ${info.width}×${info.height}, ${info.fileLength} B, ` +
    `${((info.fileLength * 8) / (info.width * info.height)).toFixed(3)} bpp`;
}

async function gallery() {
  const { list, eager } = await entries();
  for (const entry of list) {
    const fig = document.createElement("figure");
    const img = document.createElement("cvq-img");
    img.setAttribute("src", entry.file);
    img.setAttribute("alt", entry.file.split("/").pop().replace(/\.cvq$/, ""));
    if (eager) img.setAttribute("loading", "eager");
    if (entry.width && entry.height) {
      img.setAttribute("width", entry.width);
      img.setAttribute("height", entry.height);
    }
    const cap = document.createElement("figcaption");
    cap.textContent = caption(entry, img);
    img.addEventListener("load", () => { cap.textContent = caption(entry, img); });
    img.addEventListener("error", (e) => {
      cap.textContent = `${entry.file.split("/").pop()}: ${e.message}`;
      cap.className = "error";
    });
    fig.append(img, cap);
    $("gallery").append(fig);
  }
}

async function main() {
  const backend = new URLSearchParams(location.search).get("backend");
  const models = Object.fromEntries(CVQN_MODELS.filter((m) => m.key).map((m) => [m.key, m.url]));
  configure({ modelUrl: MODEL_URL, models: { ...models, [RECURRENT.name]: RECURRENT.url },
    ...(backend ? { backend } : {}) });
  const cvq = client();
  setupEncodePanel(cvq, statusLine("encode-status"),
    { recurrent: RECURRENT.name, cvqn: CVQN_MODELS });
  const galleryDone = gallery();
  const info = await cvq.info();
  status(`model ${info.id} (quality ${info.quality}), decoding on ${info.backend}` +
    (info.gpuNote ? ` (WebGPU not used: ${info.gpuNote})` : "") +
    (info.canEncode ? "" : "; encoding loads the full model on first use"));
  await galleryDone;
  document.body.dataset.ready = "1";
}

main().catch((e) => {
  status(`failed: ${e.message}`, true);
  document.body.dataset.ready = "error";
});
