#!/usr/bin/env python3
"""Per-layer speed of unetc's generated C: GFLOP/s by kind of layer, against the FMA peak.

    bench/.venv/bin/python bench/layers.py --unetc .build/release/unetc \
        [--sizes 256,512] [--threads 1,2] [--algorithms direct,auto] [--rounds 3] [--runs 5] [--layers]

For each size and algorithm: `unetc generate` (speed schedule), then layers.c compiled around
the unet.c (UNET_TRACE stamps the clock after every layer). Per thread count, `--rounds`
processes per variant, interleaved, each one warm-up and `--runs` timed runs; a layer's time is
the median over them. The machine is shared and its speed drifts by a few per cent, so peak.c
runs before every process and each one's GFLOP/s is divided by that peak: "% of peak" is the
median of those ratios. Prints, per size x threads x algorithm, each kind's GFLOP (2 per
multiply-add), ms, GFLOP/s and % of peak:

  conv3x3       every 3x3 conv
  conv3x3 Cin>3 the same without the first (3 input channels: too little work per tap to
                fill the FMA pipes; 0.2% of the FLOPs)
  convT2x2      the transposed convs
  convT2x2+conv3x3  a transposed conv streamed into the 3x3 convs that read it (one stamp)
  other         pools, the final 1x1, copies
  model         the whole unet_run

A layer streamed into another's band loop has no stamp: it counts with the layer that computes
it ("down_conv.0.first+down_conv.0.second"). Winograd layers count the direct FLOPs (so can
exceed 100%). `--layers` adds every layer.
`--phases` adds, for every direct conv that runs on its own, the share of its time each thread
spends packing its bands' input rows into the panel, computing its tiles, and waiting at the
barriers (UNET_PHASE; medians over the processes).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench import (CFLAGS, compile_peak, ensure_weights, generate_command, log, parse_sizes,  # noqa: E402
                   pick_cc, run_cmd, run_peak)
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
    cmd = generate_command(unetc, weights, h, w, gen, alg) + ["--batch", str(a.batch)]
    ok, _, out = run_cmd(cmd, timeout=1800, what=f"generate {alg}")
    if not ok:
        sys.exit(f"layers.py: unetc generate failed:\n{out[-3000:]}")
    return compile_layers(cc, gen, os.path.join(gen, "layers"))


def compile_layers(cc, gen, exe):
    """layers.c built around GEN/unet.c as EXE; exits on failure."""
    ok, _, out = run_cmd([cc] + CFLAGS + ["-I", gen, os.path.join(HERE, "layers.c"), "-o", exe, "-lm"],
                         timeout=3600, what=f"compile {gen}/unet.c")
    if not ok:
        sys.exit(f"layers.py: compile failed:\n{out[-3000:]}")
    return exe


def run_once(exe, threads, runs, args=(), env_extra=None):
    """One process of a layers.c build: ([(layer, median ns)..., ("total", ns)], {(layer, phase): ns}).
    `args` follow the run count (unet_weights.bin for external weights)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), **(env_extra or {}))
    p = subprocess.run([exe, str(runs), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=env, timeout=1800)
    if p.returncode != 0:
        sys.exit(f"layers.py: {exe} failed ({p.returncode}): {p.stderr}")
    times, phases = [], {}
    for line in p.stdout.splitlines():
        if line.startswith("phase "):
            _, layer, phase, ns = line.split()
            phases[(layer, phase)] = int(ns)
            continue
        name, ns = line.rsplit(" ", 1)
        times.append((name, int(ns)))
    return times, phases


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unetc", required=True, help="the unetc binary")
    ap.add_argument("--sizes", default="256,512", help="comma list: 256 or HxW")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--algorithms", default="direct,auto", help="comma list: direct, auto, winograd")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved processes per variant")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per process")
    ap.add_argument("--layers", action="store_true", help="print every layer too")
    ap.add_argument("--phases", action="store_true", help="print the direct convs' pack / compute / wait shares")
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
    peak_exe = compile_peak(cc, a.workdir)
    if peak_exe is None:
        sys.exit("layers.py: peak.c failed to compile")

    # (size, threads, algorithm) -> list of (peak, {layer: ns}) over the rounds, layer names in order
    runs, names, plans, phases = {}, {}, {}, {}
    for (h, w) in parse_sizes(a.sizes):
        size_dir = os.path.join(a.workdir, f"{a.batch}x{h}x{w}")
        os.makedirs(size_dir, exist_ok=True)
        plans[(h, w)] = {l["name"]: l for l in layer_plan(cfg, a.batch, h, w)}
        exes = {alg: build(a, cc, unetc, weights, h, w, alg, size_dir) for alg in algorithms}
        for t in threads:
            for r in range(a.rounds):
                for alg in (algorithms if r % 2 == 0 else algorithms[::-1]):
                    peak = run_peak(peak_exe, t, 0.1)[t]
                    times, ph = run_once(exes[alg], t, a.runs)
                    phases.setdefault(((h, w), t, alg), []).append(ph)
                    names[((h, w), t, alg)] = [n for n, _ in times]
                    runs.setdefault(((h, w), t, alg), []).append((peak, dict(times)))
                    log(f"{h}x{w} {t} thr {alg} round {r + 1}: {times[-1][1] / 1e6:.1f} ms, peak {peak:.0f}")

    def rows(key, groups):
        """(label, GFLOP, median ms, GFLOP/s at the median, median % of the round's peak); a group
        is (label, [stamped layer]), its FLOPs those of the layers computed in those stamps."""
        out = []
        for label, members in groups:
            plan, inside = plans[key[0]], computed_in(key)
            flops = sum(2 * l["macs"] for l in plan.values()) if members == ["total"] else \
                sum(2 * plan[n]["macs"] for m in members for n in inside.get(m, [m]) if n in plan)
            ns = [sum(times[n] for n in members) for _, times in runs[key]]
            # A stamp right after another (a pool fused into its conv) can read 0 ns.
            pct = [100 * flops / x / peak for (peak, _), x in zip(runs[key], ns) if x > 0]
            med = statistics.median(ns)
            out.append((label, flops, med, flops / med if med > 0 else 0.0,
                        statistics.median(pct) if flops and pct else None))
        return out

    def computed_in(key):
        """{stamped layer: the plan's layers computed before its stamp}. A layer streamed into
        another's band loop (`generate` groups) has no stamp of its own: its time and its FLOPs
        go to the stamp of the layer that computes it, "up_conv.3.second" holding
        up_sample.3.up and up_conv.3.first too."""
        stamped, inside, pending = set(names[key]), {}, []
        for n, l in plans[key[0]].items():
            if l["macs"] == 0:
                continue
            pending.append(n)
            if n in stamped:
                inside[n], pending = pending, []
        return inside

    def label_of(key, n):
        return "+".join(computed_in(key).get(n, [n]))

    for t in threads:
        peaks = [p for key in runs if key[1] == t for p, _ in runs[key]]
        print(f"peak.c before each process, {t} thread{'s' if t > 1 else ''}: {min(peaks):.0f} to "
              f"{max(peaks):.0f} GFLOP/s ({len(peaks)} measurements)")
    print()
    header = "| size | threads | algorithm | {} | GFLOP | ms | GFLOP/s | % of peak |\n|---|---:|---|---|---:|---:|---:|---:|"
    print(header.format("layers"))
    for key in runs:
        (h, w), t, alg = key
        layers = [n for n in names[key] if n != "total"]
        inside = computed_in(key)
        kinds = {n: {kind_of(plans[key[0]].get(m)) for m in inside.get(n, [n])} for n in layers}
        kind = {n: k.pop() if len(k) == 1 else "group" for n, k in kinds.items()}
        conv3 = [n for n in layers if kind[n] == "conv3x3"]
        groups = [("conv3x3", conv3),
                  ("conv3x3 Cin>3", [n for n in conv3
                                     if all(plans[key[0]][m]["cin"] > cfg["in_channels"] for m in inside[n])]),
                  ("convT2x2", [n for n in layers if kind[n] == "convT2x2"]),
                  ("convT2x2+conv3x3", [n for n in layers if kind[n] == "group"]),
                  ("other", [n for n in layers if kind[n] == "other"]),
                  ("model", ["total"])]
        for label, flops, ns, gf, pct in rows(key, groups):
            print(f"| {h}x{w} | {t} | {alg} | {label} | {flops / 1e9:.2f} | {ns / 1e6:.1f} | {gf:.1f} | "
                  f"{'' if pct is None else f'{pct:.1f}'} |")
    if a.layers:
        print()
        print(header.format("layer"))
        for key in runs:
            (h, w), t, alg = key
            for label, flops, ns, gf, pct in rows(key, [(label_of(key, n), [n]) for n in names[key] if n != "total"]):
                print(f"| {h}x{w} | {t} | {alg} | {label} | {flops / 1e9:.3f} | {ns / 1e6:.2f} | {gf:.1f} | "
                      f"{'' if pct is None else f'{pct:.1f}'} |")

    if a.phases:
        print()
        print("| size | threads | algorithm | conv | ms | pack % | compute % | wait % |\n|---|---:|---|---|---:|---:|---:|---:|")
        for key, per_round in phases.items():
            (h, w), t, alg = key
            for layer in dict.fromkeys(l for l, _ in per_round[0]):
                ms = {ph: statistics.median(r.get((layer, ph), 0) for r in per_round) / 1e6
                      for ph in ("pack", "compute", "wait")}
                total = sum(ms.values())
                print(f"| {h}x{w} | {t} | {alg} | {layer} | {total:.2f} | {100 * ms['pack'] / total:.1f} | "
                      f"{100 * ms['compute'] / total:.1f} | {100 * ms['wait'] / total:.1f} |")


if __name__ == "__main__":
    main()
