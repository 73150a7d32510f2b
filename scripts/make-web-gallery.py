#!/usr/bin/env python3
"""Writes www/gallery/kodak/: the 24 Kodak images encoded by the native CLI with the
default (embedded) model, and index.json with each file's size, bpp, PSNR and MS-SSIM
as `cvq encode --metrics` measured them.

    cargo build --release -p cvq
    python3 scripts/make-web-gallery.py [--kodak ../shared/data/kodak] [--cvq target/release/cvq]
"""
import argparse
import glob
import json
import os
import re
import subprocess

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--kodak", default="../shared/data/kodak")
ap.add_argument("--cvq", default="target/release/cvq")
ap.add_argument("--out", default="www/gallery/kodak")
args = ap.parse_args()

os.makedirs(args.out, exist_ok=True)
entries = []
for png in sorted(glob.glob(os.path.join(args.kodak, "kodim*.png"))):
    name = os.path.basename(png)[:-4]
    cvq = os.path.join(args.out, f"{name}.cvq")
    run = lambda *a: subprocess.run([args.cvq, *a], capture_output=True, text=True, check=True).stdout
    enc = run("encode", png, "-o", cvq, "--metrics")
    size = re.search(r"\((\d+) bytes, ([0-9.]+) bpp", enc)
    quality = re.search(r"PSNR ([0-9.]+) dB, MS-SSIM ([0-9.]+)", enc)
    dims = re.search(r"image:\s+(\d+) x (\d+)", run("info", cvq))
    entries.append({
        "file": f"{name}.cvq",
        "width": int(dims.group(1)),
        "height": int(dims.group(2)),
        "bytes": int(size.group(1)),
        "bpp": float(size.group(2)),
        "psnr": float(quality.group(1)),
        "msSsim": float(quality.group(2)),
    })
    print(name, entries[-1]["bytes"], "B")
with open(os.path.join(args.out, "index.json"), "w") as f:
    json.dump(entries, f, indent=1)
    f.write("\n")
