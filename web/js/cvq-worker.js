// cvq codec worker: owns the wasm module and its models so decoding and encoding never
// block the page's main thread. Spoken to by cvq-client.js:
//   request  {id, op, args}          op ∈ setup | info | modelInfo | inspect | decode
//                                         | decodePartial | decodeTiles | encode | compare
//   reply    {id, ok: true, result}  (pixel/byte buffers transferred, not copied)
//            {id, tile}              (decodeTiles: each finished tile, before the reply)
//            {id, ok: false, error}  (the thrown message text)
// Every op waits for `setup` ({moduleUrl, gpuModuleUrl, modelUrl, backend}), which the
// client sends first.

/** @type {Promise<Backend>|null} resolved once the wasm module and decoder are ready. */
let ready = null;

/**
 * @typedef {object} Backend
 * @property {string} name     shown to the user, e.g. "CPU (wasm SIMD)"
 * @property {object} wasm     the wasm-bindgen module (inspect, compare, Codec)
 * @property {object} decoder  Codec that decodes (the embedded model) on the CPU path
 * @property {object|null} gpu GpuCodec that decodes with WebGPU synthesis, if in use
 * @property {string|null} gpuNote  why WebGPU is not in use
 * @property {(name?: string) => Promise<object>} encoder  Codec that can encode: the
 *   default model's, or that of the page's model `name` (loaded on first use)
 * @property {(name?: string) => Promise<{cpu: object, gpu: object|null}>} encoders  the
 *   same model's Codec and, while WebGPU is in use, its GpuCodec
 * @property {(id: string) => Promise<{cpu: object, gpu: object|null}>} model  Codecs
 *   (CPU path, and WebGPU while in use) for the model `id`: the embedded one, or one of
 *   `models` fetched on first use
 */

/**
 * The one place a backend is chosen. Entropy decoding always runs in the wasm module's
 * CPU code (integer models, identical everywhere). Synthesis runs on WebGPU through
 * `GpuCodec` when `backend` allows and an adapter exists — "auto" skips software
 * (fallback) adapters such as SwiftShader, which are slower than the SIMD CPU path — and
 * then the larger WebGPU build (`gpuModuleUrl`) is loaded; otherwise the CPU-only build
 * (`moduleUrl`, smaller download). Encoding runs where synthesis does: the encoder on
 * WebGPU (its symbols read back, entropy-coded in wasm), else on the CPU path.
 * @param {{moduleUrl: string, gpuModuleUrl: string, modelUrl: string|null,
 *   backend?: "auto"|"webgpu"|"cpu"}} opts
 * @returns {Promise<Backend>}
 */
async function setupBackend({ moduleUrl, gpuModuleUrl, modelUrl, models = {},
  backend = "auto" }) {
  let { adapter, note } = backend === "cpu" ? { adapter: null, note: "CPU path requested" }
    : await probeAdapter(backend === "webgpu");
  const wasm = await import(adapter ? gpuModuleUrl : moduleUrl);
  const { memory } = await wasm.default();
  const decoder = wasm.Codec.embedded();
  let gpu = null;
  if (adapter) ({ gpu, note } = await openGpu(wasm, adapter));
  if (backend === "webgpu" && !gpu) throw new Error(`WebGPU unavailable: ${note}`);
  // Model files fetched by URL (the full model to encode, the page's `models`): each once;
  // a failed fetch is forgotten so that a later call retries. A model that decodes while
  // WebGPU synthesis is in use also gets a `GpuCodec` of the same bytes, made once.
  const cached = (map, key, make) => {
    if (!map.has(key)) {
      const p = make();
      p.catch(() => map.delete(key));
      map.set(key, p);
    }
    return map.get(key);
  };
  const files = new Map(); // url → Promise<{cpu: Codec, bytes: Uint8Array}>
  const loadedIds = new Map(); // `name#hash` of a model fetched → its url
  const load = (url) => cached(files, url, async () => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`model ${url}: HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const cpu = new wasm.Codec(bytes);
    loadedIds.set(cpu.id, url);
    return { cpu, bytes };
  });
  const gpus = new Map(); // url → Promise<GpuCodec>
  const loadGpu = (url) => cached(gpus, url, async () =>
    wasm.GpuCodec.create((await load(url)).bytes));
  const embedded = { cpu: decoder, gpu };
  /** The page's model `name` (or full id): its URL in `models`, or an error naming it. */
  const urlOf = (id) => {
    const name = id.split("#")[0];
    const url = models[id] ?? models[name];
    if (!url) {
      throw new Error(`this file was written by model ${id}, which is not embedded: ` +
        `configure({ models: { "${name}": URL of its .cvqm } })`);
    }
    return url;
  };
  return {
    name: gpu ? `WebGPU (${gpu.label})` : "CPU (wasm SIMD)",
    wasm,
    memory,
    decoder,
    gpu,
    gpuNote: note,
    // The embedded model may be decoder-only (canEncode === false); then the full model
    // is fetched once, on the first encode. `undefined` (older builds) means it can encode.
    // With `name`, one of the page's `models` encodes instead (e.g. the recurrent family).
    // Resolves to {cpu, gpu}: the model's Codec, and its GpuCodec while WebGPU is in use.
    async encoders(name) {
      if (!name && decoder.canEncode !== false) return embedded;
      if (!name && !modelUrl) {
        throw new Error("encoding needs the full model (.cvqm): configure({ modelUrl })");
      }
      const url = name ? urlOf(name) : modelUrl;
      const { cpu } = await load(url);
      if (!cpu.canEncode) throw new Error(`model ${name} is decoder-only: it cannot encode`);
      return { cpu, gpu: gpu ? await loadGpu(url) : null };
    },
    async encoder(name) {
      return (await this.encoders(name)).cpu;
    },
    // Files of other models (the recurrent family, other rate points): the page names
    // their model files in `models`, by name or by full id; each is fetched once. A model
    // already fetched (e.g. to encode, under any key) decodes its files by its id.
    // Resolves to {cpu, gpu}: the codecs of the model `id` on each path.
    async model(id) {
      if (id === decoder.id) return embedded;
      const url = loadedIds.get(id) ?? urlOf(id);
      const { cpu } = await load(url);
      if (cpu.id !== id) throw new Error(`model ${url} is ${cpu.id}; the file needs ${id}`);
      return { cpu, gpu: gpu ? await loadGpu(url) : null };
    },
  };
}

/**
 * A WebGPU adapter worth using, or why there is none.
 * @returns {Promise<{adapter: object|null, note: string|null}>}
 */
async function probeAdapter(allowSoftware) {
  if (!self.navigator.gpu) return { adapter: null, note: "navigator.gpu is missing" };
  const adapter = await self.navigator.gpu.requestAdapter();
  if (!adapter) return { adapter: null, note: "no WebGPU adapter" };
  if (adapter.info?.isFallbackAdapter && !allowSoftware) {
    return { adapter: null, note: "software WebGPU adapter, slower than the CPU path" };
  }
  return { adapter, note: null };
}

/**
 * Opens WebGPU synthesis in the WebGPU build of the module.
 * @returns {Promise<{gpu: object|null, note: string|null}>}
 */
async function openGpu(wasm, adapter) {
  if (!wasm.GpuCodec) return { gpu: null, note: "the module has no WebGPU path" };
  try {
    const gpu = await wasm.GpuCodec.create();
    const { vendor, architecture, isFallbackAdapter } = adapter.info ?? {};
    gpu.label = [vendor, architecture].filter(Boolean).join(" ") || "adapter";
    if (isFallbackAdapter) gpu.label += ", software";
    return { gpu, note: null };
  } catch (e) {
    return { gpu: null, note: e instanceof Error ? e.message : String(e) };
  }
}

/** Copies a wasm DecodedImage into a plain object and frees the wasm side. */
function takeImage(img, ms, backend) {
  try {
    const rgba = img.rgba; // a copy in JS memory, safe to transfer
    return [{ width: img.width, height: img.height, rgba, ms, backend,
      groupsReceived: img.groupsReceived, groups: img.groups }, [rgba.buffer]];
  } finally {
    img.free();
  }
}

/** Runs `fn` on a wasm object and frees it afterwards. */
function using(obj, fn) {
  try { return fn(obj); } finally { obj.free(); }
}

/**
 * Decodes with the model the file names: the embedded one or one of the page's `models`,
 * synthesis on WebGPU while it is in use, else on the CPU (a recurrent stream decoded
 * prefix by prefix runs each iteration once on either path: the codec keeps its state).
 * @param {"decode"|"decodePartial"} op
 */
async function decodeWith(b, bytes, op) {
  const { cpu, gpu } = await codecsFor(b, bytes);
  const t0 = performance.now();
  if (gpu) return takeImage(await gpu[op](bytes), performance.now() - t0, b.name);
  return takeImage(cpu[op](bytes), performance.now() - t0, "CPU (wasm SIMD)");
}

/** {cpu, gpu}: the codecs of the model the file names (`b.model`), or the embedded one's. */
async function codecsFor(b, bytes) {
  const id = using(b.wasm.inspect(bytes), (i) => i.model);
  return id ? b.model(id) : { cpu: b.decoder, gpu: b.gpu };
}

/** Handlers: each returns [result, transferList]. */
const OPS = {
  async info(b) {
    return [{ backend: b.name, id: b.decoder.id, quality: b.decoder.quality,
      canEncode: b.decoder.canEncode !== false, gpuNote: b.gpuNote,
      memoryBytes: b.memory.buffer.byteLength }, []];
  },
  async modelInfo(b, [name]) {
    const c = await b.encoder(name);
    return [{ id: c.id, family: c.family, quality: c.quality,
      qualities: Array.from(c.qualities), canEncode: c.canEncode !== false }, []];
  },
  async inspect(b, [bytes]) {
    return [using(b.wasm.inspect(bytes), (i) => ({ headerComplete: i.headerComplete,
      model: i.model,
      width: i.width, height: i.height, groups: i.groups,
      groupsComplete: i.groupsComplete, fileLength: i.fileLength })), []];
  },
  async decode(b, [bytes]) {
    return decodeWith(b, bytes, "decode");
  },
  async decodePartial(b, [bytes]) {
    return decodeWith(b, bytes, "decodePartial");
  },
  async encode(b, [rgba, width, height, { model, quality } = {}]) {
    const { cpu: codec, gpu } = await b.encoders(model);
    const q = quality ?? codec.quality;
    const qualities = Array.from(codec.qualities);
    if (!qualities.includes(q)) {
      throw new Error(`model ${codec.id} has no quality ${q}: ` +
        (codec.family === "recurrent" ? "iterations" : "qualities") + ` ${qualities.join(", ")}`);
    }
    const t0 = performance.now();
    // The encoder on WebGPU while it is in use; a model it cannot run there (one whose
    // channel order comes from the image) encodes on the CPU path, and the reply says why.
    let bytes = null, backend = "CPU (wasm SIMD)", gpuError;
    if (gpu?.encode) {
      try {
        bytes = await gpu.encode(rgba, width, height, q);
        backend = b.name;
      } catch (e) {
        gpuError = e instanceof Error ? e.message : String(e);
      }
    }
    bytes ??= codec.encode(rgba, width, height, q);
    const ms = performance.now() - t0;
    return [{ bytes, ms, quality: q, id: codec.id, family: codec.family, backend, gpuError },
      [bytes.buffer]];
  },
  // A large CVQN image in tiles (memory bounded by the tile, whatever the photo's size),
  // synthesis on WebGPU while it is in use, else on the CPU path: each finished tile goes
  // to the page at once (`emit`), the reply then says how many there were. A recurrent
  // file decodes whole and comes as one tile.
  async decodeTiles(b, [bytes, { tile = 512, partial = false } = {}], emit) {
    const { cpu, gpu } = await codecsFor(b, bytes);
    const t0 = performance.now();
    const send = (img, x, y) => {
      const rgba = img.rgba;
      emit({ x, y, width: img.width, height: img.height, rgba }, [rgba.buffer]);
    };
    let tiles = 1, backend = "CPU (wasm SIMD)";
    if (cpu.family === "recurrent") {
      using(partial ? cpu.decodePartial(bytes) : cpu.decode(bytes), (img) => send(img, 0, 0));
    } else if (gpu?.decodeTiles) {
      tiles = await gpu.decodeTiles(bytes, tile, partial, (t) => using(t, () => send(t, t.x, t.y)));
      backend = b.name;
    } else {
      tiles = cpu.decodeTiles(bytes, tile, partial, (t) => using(t, () => send(t, t.x, t.y)));
    }
    return [{ tiles, ms: performance.now() - t0, backend,
      memoryBytes: b.memory.buffer.byteLength }, []];
  },
  async compare(b, [reference, distorted, width, height]) {
    return [using(b.wasm.compare(reference, distorted, width, height),
      (m) => ({ psnr: m.psnr, msSsim: m.msSsim })), []];
  },
};

self.onmessage = async ({ data: { id, op, args } }) => {
  try {
    if (op === "setup") {
      ready ??= setupBackend(args[0]);
      await ready;
      self.postMessage({ id, ok: true, result: null });
      return;
    }
    if (!ready) throw new Error("cvq worker: setup was not called");
    const handler = OPS[op];
    if (!handler) throw new Error(`cvq worker: unknown op ${op}`);
    const emit = (tile, transfer) => self.postMessage({ id, tile }, transfer);
    const [result, transfer] = await handler(await ready, args, emit);
    self.postMessage({ id, ok: true, result }, transfer);
  } catch (e) {
    self.postMessage({ id, ok: false, error: e instanceof Error ? e.message : String(e) });
  }
};
