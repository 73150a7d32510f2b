// JPEG and WebP made by the browser (canvas.toBlob) at the largest size that fits a byte
// budget, found by binary search on the quality setting.

/** canvas.toBlob as a promise; rejects if the browser returns nothing. */
function toBlob(canvas, type, quality) {
  return new Promise((resolve, reject) => canvas.toBlob(
    (b) => (b ? resolve(b) : reject(new Error(`the browser cannot encode ${type}`))),
    type, quality));
}

/**
 * The largest `type` blob of `canvas` with at most `budget` bytes.
 * Size is not strictly monotonic in quality; 8 halvings pick a quality within 1/256.
 * @returns {Promise<{blob: Blob, quality: number, fits: boolean}>} `fits` false: even
 *   quality 0 is over the budget, and `blob` is that smallest file.
 */
export async function fitToBudget(canvas, type, budget) {
  const smallest = await toBlob(canvas, type, 0);
  if (smallest.type !== type) throw new Error(`this browser cannot encode ${type}`);
  if (smallest.size > budget) return { blob: smallest, quality: 0, fits: false };
  let best = { blob: smallest, quality: 0, fits: true };
  let lo = 0, hi = 1;
  for (let i = 0; i < 8; i++) {
    const q = (lo + hi) / 2;
    const blob = await toBlob(canvas, type, q);
    if (blob.size <= budget) {
      if (blob.size >= best.blob.size) best = { blob, quality: q, fits: true };
      lo = q;
    } else {
      hi = q;
    }
  }
  return best;
}

/** Decodes an image blob back to RGBA with the browser's own decoder. */
export async function pixelsOf(blob) {
  const bitmap = await createImageBitmap(blob);
  const { width, height } = bitmap;
  const ctx = new OffscreenCanvas(width, height).getContext("2d");
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return { width, height, rgba: ctx.getImageData(0, 0, width, height).data };
}
