#!/usr/bin/env python3
"""Arena bytes of both memory modes beside the greedy-by-size baseline, as a markdown table.

    python3 bench/arena_table.py --unetc .build/release/unetc

Runs `unetc init` for the classic model (3 -> 1, base 64, depth 4) and the small embedded
config (1 -> 1, base 8, depth 3), then `unetc inspect --memory --json` per size and algorithm.
Standard library only.
"""
import argparse
import json
import os
import subprocess
import tempfile


def inspect(unetc, weights, size, algorithm):
    out = subprocess.run([unetc, "inspect", "--weights", weights, "--height", str(size), "--width", str(size),
                          "--memory", "--json", "--algorithm", algorithm],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)["modes"]


def mb(b):
    return f"{b / 1e6:.2f} MB" if b >= 1e6 else f"{b / 1e3:.1f} kB"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unetc", default=".build/release/unetc")
    ap.add_argument("--sizes", default="128,256,512,1024")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    classic, small = os.path.join(tmp, "classic.safetensors"), os.path.join(tmp, "small.safetensors")
    subprocess.run([a.unetc, "init", "-o", classic], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([a.unetc, "init", "--in-channels", "1", "--out-channels", "1", "--base", "8", "--depth", "3",
                    "-o", small], check=True, stdout=subprocess.DEVNULL)
    cases = [("classic", classic, int(s), alg) for s in a.sizes.split(",") for alg in ("auto", "direct")]
    cases += [("base 8, depth 3, 1 channel", small, 96, alg) for alg in ("auto", "direct")]
    print("| model | input | --algorithm | speed: arena (= its lower bound) | speed: greedy-by-size | "
          "min: arena (= its lower bound) | min: greedy-by-size | min / speed bound |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for name, weights, size, alg in cases:
        m = inspect(a.unetc, weights, size, alg)
        s, n = m["speed"], m["min"]
        note = lambda p: "" if p["arena_bytes"] == p["lower_bound_bytes"] else f" (bound {mb(p['lower_bound_bytes'])})"
        print(f"| {name} | {size}x{size} | {alg} | {mb(s['arena_bytes'])}{note(s)} | {mb(s['greedy_by_size_bytes'])} | "
              f"{mb(n['arena_bytes'])}{note(n)} | {mb(n['greedy_by_size_bytes'])} | "
              f"{n['arena_bytes'] / s['lower_bound_bytes']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
