// Promise-based client of cvq-worker.js (package cvq-web): each method posts one message and resolves with
// the worker's answer, or rejects with Error(message) carrying the worker's error text.
// A worker that dies (script or module failed to load) rejects every pending and later call.

/**
 * URLs the client uses; they default to the files of this package next to this script
 * (`cvq-worker.js`, `cvq_web.js`, `webgpu/cvq_web.js`), so the package folder can be
 * served as it is. Change them with configure() before the first call.
 */
export const config = {
  /** the module worker script */
  workerUrl: new URL("./cvq-worker.js", import.meta.url).href,
  /** the wasm-bindgen module, CPU path only (wasm-pack --target web output; 2.1 MB gzip) */
  moduleUrl: new URL("./cvq_web.js", import.meta.url).href,
  /** the same module built with the `webgpu` feature, loaded only when WebGPU is used */
  gpuModuleUrl: new URL("./webgpu/cvq_web.js", import.meta.url).href,
  /**
   * The full model (`cvq-compact-q3.cvqm`, 5 MB, not in this package), fetched on the
   * first encode: the embedded model is decoder-only. `null`: encoding is refused.
   */
  modelUrl: null,
  /**
   * Models for files the embedded model did not write, e.g. the recurrent family:
   * `{ "cvq-rnn": "/models/cvq-rnn.cvqm" }`, keyed by the model's name or its full id
   * `name#hash` (`cvq info FILE.cvq` prints it). Each is fetched once, when the first
   * file that needs it is decoded. Any other key names a model for `encode({model})`
   * only (e.g. `{ "ms-ssim-q2": "/models/cvq-compact-ssim-q2.cvqm" }` for models that
   * share a name); once fetched, a model also decodes its files by its id.
   */
  models: {},
  /**
   * Images of more pixels than this decode in tiles in `<cvq-img>` (`decodeTiles`): the
   * worker's memory stays bounded by the tile and tiles are painted as they finish;
   * previews while the file streams in are skipped for them (each would be a whole
   * decode). `Infinity` turns tiling off.
   */
  tileAbove: 4_000_000,
  /**
   * Where synthesis runs: "auto" (WebGPU on a hardware adapter, else the CPU path),
   * "webgpu" (any adapter, software ones included; fails without one) or "cpu".
   */
  backend: "auto",
};

const BACKENDS = ["auto", "webgpu", "cpu"];

/**
 * Overrides some of the settings in `config` (relative URLs resolve against the page).
 * `configure()` must come before the first decode; `tileAbove` may change any time.
 * @param {Partial<typeof config>} urls
 */
export function configure(urls) {
  const onlyTiles = Object.keys(urls).every((k) => k === "tileAbove");
  if (shared && !onlyTiles) throw new Error("cvq: configure() must be called before the first decode");
  for (const [k, v] of Object.entries(urls)) {
    if (!(k in config)) throw new Error(`cvq: unknown setting ${k}`);
    if (k === "backend") {
      if (!BACKENDS.includes(v)) throw new Error(`cvq: backend must be one of ${BACKENDS}`);
      config.backend = v;
    } else if (k === "tileAbove") {
      if (!(typeof v === "number" && v > 0)) throw new Error("cvq: tileAbove must be a positive number");
      config.tileAbove = v;
    } else if (k === "models") {
      config.models = Object.fromEntries(Object.entries(v ?? {})
        .map(([id, url]) => [id, new URL(url, document.baseURI).href]));
    } else {
      config[k] = v === null ? null : new URL(v, document.baseURI).href;
    }
  }
}

export class CvqClient {
  #worker;
  #next = 1;
  #pending = new Map();
  #dead = null;

  /** Starts the worker and sends it the module and model URLs. */
  constructor(urls = config) {
    this.#worker = new Worker(urls.workerUrl, { type: "module" });
    this.#worker.onmessage = ({ data: { id, ok, result, error, tile } }) => {
      const p = this.#pending.get(id);
      if (!p) return;
      if (tile) {
        p.onTile?.(tile);
        return;
      }
      this.#pending.delete(id);
      if (ok) p.resolve(result); else p.reject(new Error(error));
    };
    this.#worker.onerror = (e) => {
      e.preventDefault();
      this.#fail(`cvq worker failed to start: ${e.message || urls.workerUrl}`);
    };
    this.#worker.onmessageerror = () => this.#fail("cvq worker: unreadable message");
    this.ready = this.#call("setup", [{ moduleUrl: urls.moduleUrl,
      gpuModuleUrl: urls.gpuModuleUrl, modelUrl: urls.modelUrl, models: urls.models ?? {},
      backend: urls.backend ?? "auto" }]);
  }

  /** Rejects every pending and future call with `message`. */
  #fail(message) {
    this.#dead = new Error(message);
    for (const p of this.#pending.values()) p.reject(this.#dead);
    this.#pending.clear();
    this.#worker.terminate();
  }

  #call(op, args, transfer = [], onTile = null) {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onTile });
      this.#worker.postMessage({ id, op, args }, transfer);
    });
  }

  /**
   * @returns {Promise<{backend: string, id: string, quality: number, canEncode: boolean,
   *   gpuNote: string|null, memoryBytes: number}>} gpuNote says why WebGPU was not used,
   *   if it was not; memoryBytes is the size of the wasm module's memory now (it only
   *   grows: the peak so far)
   */
  info() { return this.#call("info", []); }

  /**
   * A model that encodes: the default one, or `name` from `config.models` (fetched on
   * first use). Rejects for a name not in `models` or a decoder-only model file.
   * @param {string} [name]
   * @returns {Promise<{id: string, family: "cvqn"|"recurrent", quality: number,
   *   qualities: number[], canEncode: boolean}>} qualities: rate points, or a recurrent
   *   model's iteration counts
   */
  modelInfo(name) { return this.#call("modelInfo", [name]); }

  /**
   * Header of a (possibly partial) file: {headerComplete, model, width, height, groups,
   * groupsComplete, fileLength}. Rejects only for bytes that are not cvq.
   * @param {Uint8Array} bytes copied, not transferred
   */
  inspect(bytes) { return this.#call("inspect", [bytes]); }

  /**
   * Decodes a whole file: {width, height, rgba: Uint8ClampedArray, groupsReceived, groups, ms}.
   * @param {Uint8Array} bytes copied, unless `transfer` is true
   */
  decode(bytes, transfer = false) {
    return this.#call("decode", [bytes], transfer ? [bytes.buffer] : []);
  }

  /** Progressive preview of a prefix: the complete groups decoded, the rest guessed. */
  decodePartial(bytes, transfer = false) {
    return this.#call("decodePartial", [bytes], transfer ? [bytes.buffer] : []);
  }

  /**
   * Decodes a file tile by tile (CVQN; a recurrent file comes as one tile), calling
   * `onTile({x, y, width, height, rgba})` with each finished tile as it arrives — for
   * large photos: the worker's memory is bounded by the tile, and the page paints the
   * image as it comes. Resolves to {tiles, ms, backend, memoryBytes} (memoryBytes: the
   * wasm module's memory afterwards). Synthesis runs on WebGPU while it is in use (each
   * tile read back before the next is queued: GPU memory bounded by the tile too), else
   * on the CPU path; `backend` says which.
   * @param {Uint8Array} bytes copied, unless `transfer` is true
   * @param {(tile: {x: number, y: number, width: number, height: number,
   *   rgba: Uint8ClampedArray}) => void} onTile
   * @param {{tile?: number, partial?: boolean, transfer?: boolean}} [options] tile side in
   *   pixels (default 512); `partial` for a prefix (groups missing are guessed)
   */
  decodeTiles(bytes, onTile, { tile = 512, partial = false, transfer = false } = {}) {
    return this.#call("decodeTiles", [bytes, { tile, partial }],
      transfer ? [bytes.buffer] : [], onTile);
  }

  /**
   * Encodes RGBA pixels: {bytes: Uint8Array, ms, quality, id, family, backend, gpuError}.
   * By default with the default model at its quality; `model` names one of
   * `config.models` instead (e.g. "cvq-rnn", the recurrent family), `quality` picks a
   * rate point (a recurrent model's iteration count). Rejects for a quality the model
   * does not have. While WebGPU is in use the encoder runs there (`backend` says where
   * it ran; `gpuError` why a WebGPU encode fell back to the CPU path, if it did).
   * @param {Uint8ClampedArray|Uint8Array} rgba copied, unless `transfer` is true
   * @param {{model?: string, quality?: number, transfer?: boolean}|boolean} [options]
   *   (a boolean is `transfer`, as in earlier versions)
   */
  encode(rgba, width, height, options = {}) {
    const { model, quality, transfer = false } = typeof options === "boolean"
      ? { transfer: options } : options;
    return this.#call("encode", [rgba, width, height, { model, quality }],
      transfer ? [rgba.buffer] : []);
  }

  /** {psnr, msSsim} of `distorted` against `reference` (msSsim undefined below 161 px). */
  compare(reference, distorted, width, height) {
    return this.#call("compare", [reference, distorted, width, height]);
  }
}

let shared = null;

/** The page-wide client (one worker), created on first use. */
export function client() {
  shared ??= new CvqClient();
  return shared;
}
