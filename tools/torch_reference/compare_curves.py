#!/usr/bin/env python3
"""Compares the learning curves of a cvq-train run and of its PyTorch twin trained from
the same weights on the same crops (docs/TRAINING.md, "Learning per step").

    compare_curves.py RUN/metrics.csv torch.csv [--window 25] [--json OUT]

Both files need a row per step (`cvq-train train --log-every 1`; `cvqn_ref.py
--log-csv`). Prints, per window of steps, the mean loss, PSNR and estimated bpp of each
trainer and the differences (Burn − PyTorch), then the last window's gap, and the
step-1 loss of both (same weights, same batch: equal up to float summation order).
"""

import argparse
import csv
import json
import math
import statistics


def read(path):
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    out = {}
    for r in rows:
        out[int(r["step"])] = {k: float(r[k]) for k in ("loss", "bpp", "psnr")}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("burn")
    ap.add_argument("torch")
    ap.add_argument("--window", type=int, default=25)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    burn, torch = read(args.burn), read(args.torch)
    steps = sorted(set(burn) & set(torch))
    if not steps:
        raise SystemExit("no common steps")
    windows = []
    print(f"| steps | loss burn | loss torch | PSNR burn | PSNR torch | ΔPSNR | bpp burn | bpp torch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for start in range(0, len(steps), args.window):
        chunk = steps[start:start + args.window]
        m = {}
        for name, d in (("burn", burn), ("torch", torch)):
            for k in ("loss", "psnr", "bpp"):
                m[f"{k}_{name}"] = statistics.fmean(d[s][k] for s in chunk)
        m["first"], m["last"] = chunk[0], chunk[-1]
        m["d_psnr"] = m["psnr_burn"] - m["psnr_torch"]
        # The spread of the per-step PSNR differences in this window: the noise against
        # which the mean gap is read.
        diffs = [burn[s]["psnr"] - torch[s]["psnr"] for s in chunk]
        m["d_psnr_sd"] = statistics.pstdev(diffs) if len(diffs) > 1 else 0.0
        windows.append(m)
        print(f"| {m['first']}–{m['last']} | {m['loss_burn']:.3f} | {m['loss_torch']:.3f} | "
              f"{m['psnr_burn']:.2f} | {m['psnr_torch']:.2f} | {m['d_psnr']:+.2f} ± {m['d_psnr_sd']:.2f} | "
              f"{m['bpp_burn']:.4f} | {m['bpp_torch']:.4f} |")
    s1 = steps[0]
    rel = abs(burn[s1]["loss"] - torch[s1]["loss"]) / max(abs(torch[s1]["loss"]), 1e-12)
    print(f"step {s1}: loss burn {burn[s1]['loss']:.6f}, torch {torch[s1]['loss']:.6f} "
          f"(relative difference {rel:.2e})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"windows": windows, "step1_rel_diff": rel}, fh, indent=1)
    if not math.isfinite(rel):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
