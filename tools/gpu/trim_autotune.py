#!/usr/bin/env python3
"""Shrinks CubeCL autotune cache files before a GPU window packs them.

CubeCL keeps every failed candidate's error message, with the kernel's whole source, in
its autotune logs (one file of the first window's cache held 107 MB). Loading the cache
uses only each entry's key and `fastest_index`, so the errors are cut to their first 300
characters; everything else stays as it was.

    python3 tools/gpu/trim_autotune.py CACHE/autotune/*/*/*/*.log
"""
import json
import sys


def trim(path: str) -> None:
    entries = []
    with open(path) as fh:
        for line in fh:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            for result in entry.get("value", {}).get("results", []):
                err = result.get("outcome", {}).get("Err")
                if isinstance(err, dict):
                    for detail in err.values():
                        if isinstance(detail, dict) and isinstance(detail.get("err"), str):
                            detail["err"] = detail["err"][:300]
            entries.append(json.dumps(entry, separators=(",", ":")))
    with open(path, "w") as fh:
        fh.write("".join(e + "\n" for e in entries))


if __name__ == "__main__":
    import os

    for p in sys.argv[1:]:
        if os.path.isfile(p):  # an unmatched shell glob arrives as itself
            trim(p)
