#!/usr/bin/env python3
"""Per-layer speed of unetc's generated C: GFLOP/s by kind of layer, against the FMA peak.

    bench/.venv/bin/python bench/layers.py --unetc .build/release/unetc \
        [--sizes 256,512] [--threads 1,2] [--algorithms direct,auto] [--rounds 3] [--runs 5] [--layers]

For each size and algorithm: `unetc generate` (speed schedule), then layers.c compiled around
the unet.c (UNET_TRACE stamps the clock after every layer). Per thread count, `--rounds`
processes per variant, interleaved, each one warm-up and `--runs` timed runs; a layer's time is
the median over all of them. The peak is peak.c's, the better of the start and the end of the
run. Prints, per size x threads x algorithm, each kind's GFLOP (2 per multiply-add), ms,
GFLOP/s and % of peak:

  conv3x3       every 3x3 conv
  conv3x3 Cin>3 the same without the first (3 input channels: too little work per tap to
                fill the FMA pipes; 0.2% of the FLOPs)
  convT2x2      the transposed convs
  other         pools, the final 1x1, copies
  model         the whole unet_run

Winograd layers count the direct FLOPs (so can exceed 100%). `--layers` adds every layer.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench import CFLAGS, ensure_weights, log, measure_peak, parse_sizes, pick_cc, run_cmd  # noqa: E402
from export_onnx import layer_plan, model_config, read_safetensors  # noqa: E402


def kind_of(layer):
    if layer is None:
        return "other"
    if layer["kind"] == "conv3":
        return "conv3x3"
    if layer["kind"] == "convT":
        return "convT2x2"
    return "other"


def build(a, cc, unetc, weights, h, w, alg, size_dir):
    gen = os.path.join(size_dir, f"layers_{alg}")
    shutil.rmtree(gen, ignore_errors=True)
    algorithm, _, mode = alg.partition("+")
    cmd = [unetc, "generate", "--weights", weights, "--height", str(h), "--width", str(w),
           "--batch", str(a.batch), "--output-dir", gen, "--algorithm", algorithm]
    if mode:
        cmd += ["--memory-mode", mode]
    ok, _, out = run_cmd(cmd, timeout=1800, what=f"generate {alg}")
    if not ok:
        sys.exit(f"layers.py: unetc generate failed:\n{out[-3000:]}")
    exe = os.path.join(gen, "layers")
    ok, _, out = run_cmd([cc] + CFLAGS + ["-I", gen, os.path.join(HERE, "layers.c"), "-o", exe, "-lm"],
                         timeout=3600, what=f"compile {alg}")
    if not ok:
        sys.exit(f"layers.py: compile failed:\n{out[-3000:]}")
    return exe


def run_once(exe, threads, runs):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    p = subprocess.run([exe, str(runs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=env, timeout=1800)
    if p.returncode != 0:
        sys.exit(f"layers.py: {exe} failed ({p.returncode}): {p.stderr}")
    times = []
    for line in p.stdout.splitlines():
        name, ns = line.rsplit(" ", 1)
        times.append((name, int(ns)))
    return times


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unetc", required=True, help="the unetc binary")
    ap.add_argument("--sizes", default="256,512", help="comma list: 256 or HxW")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--algorithms", default="direct,auto", help="comma list: direct, auto, winograd")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved processes per variant")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per process")
    ap.add_argument("--layers", action="store_true", help="print every layer too")
    ap.add_argument("--cc", default=None)
    ap.add_argument("--weights", default=None, help="use this safetensors instead of init")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--workdir", default=os.path.join(HERE, "out"))
    a = ap.parse_args(argv)
    # ensure_weights reads the model options bench.py has.
    a.in_channels, a.out_channels, a.base, a.depth, a.seed, a.reuse = 3, 1, 64, 4, 0, True
    threads = [int(t) for t in a.threads.split(",") if t]
    algorithms = [s for s in a.algorithms.split(",") if s]
    os.makedirs(a.workdir, exist_ok=True)
    cc = pick_cc(a.cc)
    unetc = os.path.abspath(a.unetc)
    weights, _ = ensure_weights(a, unetc, a.workdir)
    cfg = model_config(*read_safetensors(weights))
    peak_start = measure_peak(cc, a.workdir, max(threads))

    results = []  # (size, threads, alg, {name: ns})
    for (h, w) in parse_sizes(a.sizes):
        size_dir = os.path.join(a.workdir, f"{a.batch}x{h}x{w}")
        os.makedirs(size_dir, exist_ok=True)
        plan = {l["name"]: l for l in layer_plan(cfg, a.batch, h, w)}
        exes = {alg: build(a, cc, unetc, weights, h, w, alg, size_dir) for alg in algorithms}
        for t in threads:
            samples = {alg: [] for alg in algorithms}
            for r in range(a.rounds):
                order = algorithms if r % 2 == 0 else algorithms[::-1]
                for alg in order:
                    samples[alg].append(run_once(exes[alg], t, a.runs))
                    log(f"{h}x{w} {t} thr {alg} round {r + 1}: {samples[alg][-1][-1][1] / 1e6:.1f} ms")
            for alg in algorithms:
                names = [n for n, _ in samples[alg][0]]
                med = {n: statistics.median(s[i][1] for s in samples[alg]) for i, n in enumerate(names)}
                results.append(((h, w), t, alg, names, med, plan))
    peak_end = measure_peak(cc, a.workdir, max(threads))
    peak = {t: max(peak_start.get(t, 0), peak_end.get(t, 0)) for t in threads}

    print(f"Peak (peak.c, best of start/end): " + ", ".join(f"{t} thread{'s' if t > 1 else ''} "
                                                             f"{peak[t]:.0f} GFLOP/s" for t in threads))
    print()
    print("| size | threads | algorithm | layers | GFLOP | ms | GFLOP/s | % of peak |")
    print("|---|---:|---|---|---:|---:|---:|---:|")
    for (h, w), t, alg, names, med, plan in results:
        groups = {"conv3x3": [0, 0], "conv3x3 Cin>3": [0, 0], "convT2x2": [0, 0], "other": [0, 0]}
        for n in names:
            if n == "total":
                continue
            layer = plan.get(n)
            flops = 2 * layer["macs"] if layer else 0
            k = kind_of(layer)
            groups[k][0] += flops
            groups[k][1] += med[n]
            if k == "conv3x3" and layer["cin"] > cfg["in_channels"]:
                groups["conv3x3 Cin>3"][0] += flops
                groups["conv3x3 Cin>3"][1] += med[n]
        groups["model"] = [sum(2 * l["macs"] for l in plan.values()), med["total"]]
        for k, (flops, ns) in groups.items():
            gf = flops / ns if ns else 0
            pct = f"{100 * gf / peak[t]:.1f}" if flops and peak.get(t) else ""
            print(f"| {h}x{w} | {t} | {alg} | {k} | {flops / 1e9:.2f} | {ns / 1e6:.1f} | "
                  f"{gf:.1f} | {pct} |")
    if a.layers:
        print()
        print("| size | threads | algorithm | layer | GFLOP | ms | GFLOP/s | % of peak |")
        print("|---|---:|---|---|---:|---:|---:|---:|")
        for (h, w), t, alg, names, med, plan in results:
            for n in names:
                layer = plan.get(n)
                flops = 2 * layer["macs"] if layer else 0
                gf = flops / med[n] if med[n] else 0
                pct = f"{100 * gf / peak[t]:.1f}" if flops and peak.get(t) else ""
                print(f"| {h}x{w} | {t} | {alg} | {n} | {flops / 1e9:.3f} | {med[n] / 1e6:.2f} | "
                      f"{gf:.1f} | {pct} |")


if __name__ == "__main__":
    main()
