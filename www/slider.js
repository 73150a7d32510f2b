// Before/after slider: two images of the same size stacked; the left one is clipped at the
// handle, which a (transparent, full-size) range input moves — mouse, touch and keyboard.

/** Draws RGBA pixels into `canvas`, resizing it. */
export function paint(canvas, { width, height, rgba }) {
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
}

/**
 * Builds the slider in `root`: `right` is fixed, the left image is set with `setLeft`.
 * @param {HTMLElement} root
 * @param {{label: string, image: {width, height, rgba}}} right
 * @returns {{setLeft(label: string, image: {width, height, rgba}): void}}
 */
export function createSlider(root, right) {
  const after = document.createElement("canvas");
  after.className = "after";
  const before = document.createElement("canvas");
  before.className = "before";
  const range = Object.assign(document.createElement("input"),
    { type: "range", min: 0, max: 100, step: 0.5, value: 50 });
  range.setAttribute("aria-label", "position of the divider between the two images");
  const handle = Object.assign(document.createElement("div"), { className: "handle" });
  const leftTag = Object.assign(document.createElement("span"), { className: "tag left" });
  const rightTag = Object.assign(document.createElement("span"),
    { className: "tag right", textContent: right.label });
  range.addEventListener("input", () => root.style.setProperty("--pos", `${range.value}%`));
  root.style.setProperty("--pos", "50%");
  paint(after, right.image);
  root.replaceChildren(after, before, handle, leftTag, rightTag, range);
  // Small images are scaled up (pixelated) so the divider has room to move.
  root.style.width = `${Math.max(right.image.width, 480)}px`;
  root.classList.toggle("upscaled", right.image.width < 480);
  return {
    setLeft(label, image) {
      paint(before, image);
      leftTag.textContent = label;
    },
  };
}
