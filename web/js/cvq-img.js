// <cvq-img src="photo.cvq" alt="…" fallback="photo.jpg" width height loading="eager|lazy">
// A drop-in element for .cvq images: streams the file, paints a progressive preview each
// time another group of the file has arrived, then the final decode. The decoding runs in
// cvq-worker.js (one worker per page), never on the main thread.
//
// Events: `cvq-progress` (detail {groupsReceived, groups}) for every paint, `load` once the
// whole image is shown, `error` (an ErrorEvent whose message is the error text).
// Large images (more pixels than `config.tileAbove`, 4 MP by default) skip the previews and
// decode in tiles, each painted as it finishes (`cvq-progress` detail also {tilesPainted}).
// Property `state`: "idle" (waiting to come near the viewport) | "loading" | "partial" |
// "complete" | "error"; `error` holds the message after a failure.
// On failure the content becomes <img src=fallback alt=…> if `fallback` is set, else the
// error text.
import { client, configure, config } from "./cvq-client.js";

export { configure, config };

const STYLE = `cvq-img { display: inline-block; position: relative; vertical-align: top;
  width: var(--cvq-width, auto); aspect-ratio: var(--cvq-ratio, auto); }
cvq-img > canvas, cvq-img > img { display: block; width: 100%; height: auto; }
cvq-img > .cvq-error { display: block; color: #b00; font: 13px/1.3 system-ui, sans-serif; }`;

/** Concatenates the received chunks, growing to the file length announced by the header. */
class Prefix {
  bytes = new Uint8Array(4096);
  length = 0;
  push(chunk) {
    if (this.length + chunk.length > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + chunk.length));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(chunk, this.length);
    this.length += chunk.length;
  }
  /** A copy of the bytes so far (sent to the worker, which may keep it). */
  snapshot() { return this.bytes.slice(0, this.length); }
}

export class CvqImg extends HTMLElement {
  static observedAttributes = ["src", "alt", "width", "height"];

  /** @type {"idle"|"loading"|"partial"|"complete"|"error"} */
  state = "idle";
  /** @type {string|null} the error text once state is "error" */
  error = null;
  /** {width, height, groups, fileLength} from the header, once known */
  info = null;

  #canvas = null;
  #abort = null;
  #observer = null;
  #generation = 0;

  connectedCallback() {
    injectStyle(this.ownerDocument);
    this.setAttribute("role", "img");
    this.#label();
    this.#size();
    if (this.state === "idle") this.#schedule();
  }

  disconnectedCallback() {
    this.#observer?.disconnect();
    this.#observer = null;
    this.#abort?.abort();
    if (this.state !== "complete" && this.state !== "error") this.#setState("idle");
  }

  attributeChangedCallback(name, old, value) {
    if (old === value || !this.isConnected) return;
    if (name === "alt") this.#label();
    else if (name === "src") this.#restart();
    else this.#size();
  }

  /** Starts loading now, or once the element comes within 300 px of the viewport. */
  #schedule() {
    if (!this.getAttribute("src")) return;
    if (this.getAttribute("loading") === "eager" || !("IntersectionObserver" in window)) {
      this.#start();
      return;
    }
    this.#observer = new IntersectionObserver((entries) => {
      if (!entries.some((e) => e.isIntersecting)) return;
      this.#observer.disconnect();
      this.#observer = null;
      this.#start();
    }, { rootMargin: "300px" });
    this.#observer.observe(this);
  }

  #restart() {
    this.#observer?.disconnect();
    this.#observer = null;
    this.#abort?.abort();
    this.#setState("idle");
    this.error = null;
    this.info = null;
    this.replaceChildren();
    this.#canvas = null;
    this.#schedule();
  }

  /** `state`, mirrored in `data-state` for CSS (e.g. `cvq-img[data-state=partial]`). */
  #setState(state) {
    this.state = state;
    this.dataset.state = state;
  }

  #label() {
    const alt = this.getAttribute("alt");
    if (alt !== null) this.setAttribute("aria-label", alt);
    else this.removeAttribute("aria-label");
  }

  /**
   * Box size, like <img>: the `width`/`height` attributes (CSS pixels) or else the header's
   * pixel size, through custom properties that page CSS for `cvq-img` overrides. With both
   * attributes set, the space is kept before the file arrives.
   */
  #size() {
    const w = Number(this.getAttribute("width")) || 0;
    const h = Number(this.getAttribute("height")) || 0;
    const ratio = w && h ? `${w} / ${h}` : this.info ? `${this.info.width} / ${this.info.height}` : "";
    const width = w || (h && this.info ? (h * this.info.width) / this.info.height : 0);
    const set = (name, value) => (value ? this.style.setProperty(name, value)
      : this.style.removeProperty(name));
    set("--cvq-width", width ? `${width}px` : "");
    set("--cvq-ratio", ratio);
  }

  async #start() {
    const generation = ++this.#generation;
    const abort = (this.#abort = new AbortController());
    const current = () => generation === this.#generation && !abort.signal.aborted;
    this.#setState("loading");
    try {
      const src = new URL(this.getAttribute("src"), this.baseURI).href;
      await this.#stream(src, abort.signal, current);
    } catch (e) {
      if (current()) this.#fail(e instanceof Error ? e.message : String(e));
    }
  }

  /** Fetches `src` chunk by chunk; previews whenever more groups are complete. */
  async #stream(src, signal, current) {
    const res = await fetch(src, { signal });
    if (!res.ok) throw new Error(`${src}: HTTP ${res.status}`);
    const cvq = client();
    const prefix = new Prefix();
    let shown = 0; // groups in the preview on screen
    let busy = null; // the preview pass in flight, if any
    let dirty = false; // bytes arrived while a pass was running
    let failure = null;

    // One pass at a time: inspect the prefix, decode a preview if it holds more complete
    // groups than shown. Bytes arriving meanwhile just mark the prefix dirty (coalescing).
    const preview = async () => {
      do {
        dirty = false;
        const bytes = prefix.snapshot();
        const info = await cvq.inspect(bytes);
        if (!current()) return;
        if (info.headerComplete && !this.info) this.#header(info);
        // Newer bytes already waiting: inspect those instead of previewing a stale prefix.
        if (dirty) continue;
        if (info.groupsComplete > shown && info.groupsComplete < info.groups &&
            !this.#large()) {
          const img = await cvq.decodePartial(bytes, true);
          if (!current()) return;
          shown = img.groupsReceived;
          this.#paint(img, "partial");
        }
      } while (dirty);
    };
    const kick = () => {
      if (busy) { dirty = true; return; }
      busy = preview().catch((e) => { failure ??= e; }).finally(() => { busy = null; });
    };

    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      prefix.push(value);
      if (failure) throw failure;
      kick();
    }
    while (busy) await busy;
    if (failure) throw failure;
    if (!current()) return;
    if (!this.info) this.#header(await cvq.inspect(prefix.snapshot()));
    if (this.#large()) {
      await this.#paintTiles(cvq, prefix.snapshot(), current);
      if (!current()) return;
    } else {
      const img = await cvq.decode(prefix.snapshot(), true);
      if (!current()) return;
      this.#paint(img, "complete");
    }
    this.dispatchEvent(new Event("load"));
  }

  /** Whether the image is decoded in tiles (more pixels than `config.tileAbove`). */
  #large() {
    return !!this.info && this.info.width * this.info.height > config.tileAbove;
  }

  /**
   * Decodes tile by tile, painting each tile as it arrives (`cvq-progress` detail
   * {tilesPainted, groupsReceived, groups} after each).
   */
  async #paintTiles(cvq, bytes, current) {
    const ctx = this.#ensureCanvas(this.info.width, this.info.height).getContext("2d");
    let painted = 0;
    const { groups } = this.info;
    await cvq.decodeTiles(bytes, (t) => {
      if (!current()) return;
      ctx.putImageData(new ImageData(t.rgba, t.width, t.height), t.x, t.y);
      painted += 1;
      this.#setState("partial");
      this.dispatchEvent(new CustomEvent("cvq-progress", { bubbles: true,
        detail: { tilesPainted: painted, groupsReceived: groups, groups } }));
    }, { transfer: true });
    if (current()) this.#setState("complete");
  }

  #header(info) {
    this.info = { width: info.width, height: info.height, groups: info.groups,
      fileLength: info.fileLength };
    this.#size();
    this.#ensureCanvas(info.width, info.height);
  }

  #ensureCanvas(width, height) {
    if (!this.#canvas) {
      this.#canvas = document.createElement("canvas");
      this.#canvas.setAttribute("aria-hidden", "true");
      this.replaceChildren(this.#canvas);
    }
    if (this.#canvas.width !== width) this.#canvas.width = width;
    if (this.#canvas.height !== height) this.#canvas.height = height;
    return this.#canvas;
  }

  #paint(img, state) {
    const canvas = this.#ensureCanvas(img.width, img.height);
    canvas.getContext("2d").putImageData(new ImageData(img.rgba, img.width, img.height), 0, 0);
    this.#setState(state);
    this.dispatchEvent(new CustomEvent("cvq-progress", { bubbles: true,
      detail: { groupsReceived: img.groupsReceived, groups: img.groups } }));
  }

  #fail(message) {
    this.#abort?.abort();
    this.#setState("error");
    this.error = message;
    this.#canvas = null;
    const fallback = this.getAttribute("fallback");
    if (fallback) {
      const img = document.createElement("img");
      img.src = fallback;
      img.alt = this.getAttribute("alt") ?? "";
      this.replaceChildren(img);
    } else {
      const span = document.createElement("span");
      span.className = "cvq-error";
      span.textContent = message;
      this.replaceChildren(span);
    }
    this.dispatchEvent(new ErrorEvent("error", { message }));
  }
}

/** Adds the element's default styles once per document (before any page CSS). */
function injectStyle(doc) {
  if (doc.getElementById("cvq-img-style")) return;
  const style = doc.createElement("style");
  style.id = "cvq-img-style";
  style.textContent = STYLE;
  doc.head.prepend(style);
}

if (!customElements.get("cvq-img")) customElements.define("cvq-img", CvqImg);
