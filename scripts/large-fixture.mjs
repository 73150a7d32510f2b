// Makes the 12-megapixel browser fixture (www/tests/large.test.mjs): the .cvq written by
// the native `cvq encode` and, since a 12-MP PNG is too large to commit, 2,000 pixels of
// the native `cvq decode` (default 512-px tiles) sampled at fixed pseudo-random positions.
//   cargo build --release -p cvq --bin cvq
//   node scripts/large-fixture.mjs BIG.png OUT.cvq     (writes OUT.cvq and OUT.cvq.samples.json)
//   node scripts/large-fixture.mjs --samples OUT.cvq    (samples an existing OUT.cvq again, after
//                                                        a change to the decoder's arithmetic)
// The committed fixture: ../shared/data/kodak/kodim23.png upscaled to 4000×3000
// with Pillow's bilinear filter (`python3 -c "from PIL import Image;
// Image.open('kodim23.png').convert('RGB').resize((4000, 3000), Image.BILINEAR).save('big.png')"`),
// quality 3 (the model the web module embeds).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readPng } from "../web/tests/node/png.mjs";

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node scripts/large-fixture.mjs BIG.png OUT.cvq | --samples OUT.cvq");
  process.exit(2);
}
const cvq = process.env.CVQ ?? "target/release/cvq";
if (input !== "--samples") {
  execFileSync(cvq, ["encode", input, "-o", output, "--quality", "3"], { stdio: "inherit" });
}
const dir = mkdtempSync(join(tmpdir(), "cvq-large-"));
try {
  const png = join(dir, "decoded.png");
  execFileSync(cvq, ["decode", output, "-o", png], { stdio: "inherit" });
  const { width, height, rgba } = readPng(readFileSync(png));
  let state = 0x1234_5678;
  const next = () => {
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    return state;
  };
  const samples = [];
  for (let i = 0; i < 2000; i++) {
    const x = next() % width, y = next() % height, at = 4 * (y * width + x);
    samples.push([x, y, rgba[at], rgba[at + 1], rgba[at + 2]]);
  }
  writeFileSync(`${output}.samples.json`, JSON.stringify({ width, height, samples }));
  console.log(`${output}: ${readFileSync(output).length} B, ${width}×${height}; ` +
    `${samples.length} samples in ${output}.samples.json`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
