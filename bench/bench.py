#!/usr/bin/env python3
"""Benchmark table: unetc's generated C against ONNX Runtime and OpenVINO on the CPU.

    bench/.venv/bin/python bench/bench.py --unetc .build/release/unetc \
        [--sizes 256,512] [--threads 1,2] [--reps 5] [--algorithms direct] [--peers ort,openvino]
    bench/.venv/bin/python bench/bench.py --peers-only --sizes 256 --threads 1,2 --reps 3

For each size HxW (square unless given as HxW, e.g. 256x320):
  * weights: `unetc init --in-channels 3 --out-channels 1 --base 64 --depth 4 --seed 0`
    (once; --peers-only, or a failing/missing unetc, uses make_weights.py; --weights overrides);
  * ONNX export (export_onnx.py), one input file (uniform [0,1), seed 0) shared by all systems;
  * per algorithm A: `unetc generate --weights W --height H --width W --output-dir D
    [--algorithm A]`, then `/usr/bin/clang-14 -O3 -march=native -fopenmp -I D harness.c D/*.c`.
Then per thread count T, repetitions are interleaved round-robin across the systems (the order
rotates each round): every unetc variant is a fresh harness process per repetition
(OMP_NUM_THREADS=T, one warm-up + --runs-per-rep timed runs; its peak RSS from wait4), every
peer is a persistent `peers.py --serve` subprocess (model compiled once, --warmup runs, its peak
RSS = VmHWM). Peak FLOP/s comes from peak.c, measured at the start and the end of this run.

Writes the markdown table to stdout and to WORKDIR/results.md, raw numbers to results.json.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import numpy as np
    from export_onnx import (build_onnx, count_flops, model_config, output_shape,
                             read_safetensors)
    import peers as peers_mod
except ImportError as e:  # pragma: no cover
    sys.exit(f"bench.py: {e}. Run it with the venv: bench/.venv/bin/python bench/bench.py "
             f"(python3 -m venv bench/.venv && bench/.venv/bin/pip install -r bench/requirements.txt)")

DEFAULT_CC = "/usr/bin/clang-14"
CFLAGS = ["-O3", "-march=native", "-fopenmp"]


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_cmd(cmd, timeout=None, env=None, what=None):
    """Runs cmd; returns (ok, seconds, combined output)."""
    log(("$ " if what is None else what + ": $ ") + " ".join(shlex.quote(c) for c in cmd))
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        out = e.stdout if isinstance(e.stdout, str) else (e.stdout or b"").decode(errors="replace")
        return False, time.perf_counter() - t0, out + f"\n(timed out after {timeout} s)"
    except OSError as e:
        return False, time.perf_counter() - t0, str(e)
    return p.returncode == 0, time.perf_counter() - t0, p.stdout


def parse_sizes(text):
    sizes = []
    for tok in text.split(","):
        tok = tok.strip().lower()
        if not tok:
            continue
        h, _, w = tok.partition("x")
        sizes.append((int(h), int(w or h)))
    return sizes


def pick_cc(requested):
    for cc in ([requested] if requested else []) + [DEFAULT_CC, "/usr/bin/clang"]:
        if cc and os.path.exists(cc) and os.access(cc, os.X_OK):
            return cc
    sys.exit("bench.py: no Debian clang (/usr/bin/clang-14); run: apt-get install -y clang libomp-dev "
             "(the Swift toolchain's clang has no OpenMP)")


# ---------------------------------------------------------------- peak FLOP/s (peak.c)

def compile_tool(cc, workdir, name, extra=()):
    """Builds bench/NAME.c in workdir; returns the executable, or None (logged) if it fails."""
    exe = os.path.join(workdir, name)
    ok, _, out = run_cmd([cc] + CFLAGS + list(extra) + [os.path.join(HERE, f"{name}.c"), "-o", exe],
                         what=f"compile {name}.c")
    if not ok:
        log(f"{name}.c failed to compile:\n{out}")
        return None
    return exe


def compile_peak(cc, workdir):
    return compile_tool(cc, workdir, "peak")


# A cross-core round trip (crosscore.c) above this many ns marks one of this machine's slow
# minutes (README, Speed): 80-170 ns in the usual ones, 400-600 in the slow ones.
SLOW_TRIP_NS = 250


def run_crosscore(exe):
    """The cross-core round trip in ns (crosscore.c), or None."""
    if exe is None:
        return None
    ok, _, out = run_cmd([exe], timeout=60, what="crosscore")
    m = re.search(r"roundtrip_ns=(\d+)", out) if ok else None
    return int(m.group(1)) if m else None


def run_peak(exe, max_threads, seconds=0.3):
    """{threads: GFLOP/s} for 1..max_threads, from one run of peak.c."""
    ok, _, out = run_cmd([exe, str(max_threads), str(seconds)], timeout=120, what="peak")
    return {int(m.group(1)): float(m.group(2)) for m in re.finditer(r"threads=(\d+) gflops=([\d.]+)", out)}


def measure_peak(cc, workdir, max_threads):
    exe = compile_peak(cc, workdir)
    if exe is None:
        return {}
    peak = run_peak(exe, max_threads)
    log("peak GFLOP/s: " + ", ".join(f"{t} thr {g:.1f}" for t, g in sorted(peak.items())))
    return peak


# ---------------------------------------------------------------- unetc side

class UnetcVariant:
    def __init__(self, name, algorithm, exe, compile_s, gen_s, gen_dir):
        self.name, self.algorithm, self.exe = name, algorithm, exe
        self.compile_s, self.gen_s, self.gen_dir = compile_s, gen_s, gen_dir
        self.rss_mib = 0.0
        self.out_path = None

    def run_ms(self, threads, input_path, runs, out_path=None, timeout=None):
        """One fresh harness process; returns its timed runs (ms)."""
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        cmd = [self.exe, input_path, str(runs)] + ([out_path] if out_path else [])
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise RuntimeError(f"{self.name}: harness timed out after {timeout} s")
        # The harness reports its own VmHWM. Not wait4/RUSAGE_CHILDREN: Linux carries
        # ru_maxrss across execve, so a child forked from this (large) Python process would
        # report at least this process's RSS.
        m = re.search(r"peak_rss_kib (\d+)", err)
        if m:
            self.rss_mib = max(self.rss_mib, int(m.group(1)) / 1024.0)
        if p.returncode != 0:
            raise RuntimeError(f"{self.name}: harness exit {p.returncode}: {err.strip()[-500:]}")
        times = [float(line) for line in out.split() if line.strip()]
        if len(times) != runs:
            raise RuntimeError(f"{self.name}: expected {runs} timings, got {out!r}")
        return times


def generate_command(unetc, weights, h, w, out_dir, variant, algorithm_flag=True):
    """`unetc generate` for a variant: an algorithm, "default", or "ALG+MODE" ("auto+min":
    --algorithm auto --memory-mode min). Without `algorithm_flag` (a unetc from before
    --algorithm) the algorithm is left to unetc's default."""
    cmd = [unetc, "generate", "--weights", weights, "--height", str(h), "--width", str(w),
           "--output-dir", out_dir]
    algorithm, _, mode = variant.partition("+")
    if algorithm != "default" and algorithm_flag:
        cmd += ["--algorithm", algorithm]
    if mode:
        cmd += ["--memory-mode", mode]
    return cmd


def unetc_has_algorithm_flag(unetc):
    ok, _, out = run_cmd([unetc, "generate", "--help"], timeout=60, what="probe")
    return "--algorithm" in out


def build_unetc_variants(a, cc, unetc, weights, h, w, size_dir, has_alg_flag):
    variants = []
    algorithms = a.algorithms
    if not has_alg_flag:
        if algorithms != ["default"]:
            log(f"WARNING: `{unetc} generate` has no --algorithm option; generating its default "
                f"once and labelling it {algorithms[0]!r}")
        algorithms = algorithms[:1]
    for alg in algorithms:
        name = "unetc" if alg == "default" else f"unetc {alg}"
        gen_dir = os.path.join(size_dir, f"gen_{alg}")
        exe = os.path.join(gen_dir, "harness")
        if a.reuse and os.path.exists(exe):
            log(f"{name} {h}x{w}: reusing {exe}")
            variants.append(UnetcVariant(name, alg, exe, float("nan"), float("nan"), gen_dir))
            continue
        shutil.rmtree(gen_dir, ignore_errors=True)
        cmd = generate_command(unetc, weights, h, w, gen_dir, alg, has_alg_flag) + shlex.split(a.generate_args)
        ok, gen_s, out = run_cmd(cmd, timeout=a.generate_timeout, what=f"generate {name}")
        if not ok:
            log(f"SKIP {name} {h}x{w}: unetc generate failed:\n{out[-3000:]}")
            continue
        sources = sorted(os.path.join(gen_dir, f) for f in os.listdir(gen_dir) if f.endswith(".c"))
        if not os.path.exists(os.path.join(gen_dir, "unet.h")) or not sources:
            log(f"SKIP {name} {h}x{w}: {gen_dir} lacks unet.h or a .c file")
            continue
        cmd = [cc] + CFLAGS + shlex.split(a.cflags) + ["-I", gen_dir,
                                                       os.path.join(HERE, "harness.c")] \
            + sources + ["-o", exe, "-lm"]
        ok, compile_s, out = run_cmd(cmd, timeout=a.compile_timeout, what=f"compile {name}")
        if not ok:
            log(f"SKIP {name} {h}x{w}: compile failed after {compile_s:.0f} s:\n{out[-3000:]}")
            continue
        log(f"{name} {h}x{w}: generate {gen_s:.1f} s, compile {compile_s:.1f} s")
        variants.append(UnetcVariant(name, alg, exe, compile_s, gen_s, gen_dir))
    checked = []
    for v in variants:
        ok, _, info = run_cmd([v.exe, "--info"], timeout=30, what=f"{v.name} --info")
        vals = dict(re.findall(r"(UNET_\w+)=(\d+)", info))
        want = {"UNET_BATCH": a.batch, "UNET_IN_CHANNELS": a.in_channels,
                "UNET_IN_HEIGHT": h, "UNET_IN_WIDTH": w}
        bad = {k: (vals.get(k), x) for k, x in want.items() if vals.get(k) != str(x)}
        if not ok or bad:
            log(f"SKIP {v.name} {h}x{w}: unet.h constants disagree (got, expected): {bad} {info}")
            continue
        v.info = vals
        checked.append(v)
    return checked


def ensure_weights(a, unetc, workdir):
    if a.weights:
        return a.weights, "given"
    path = os.path.join(workdir, "weights.safetensors")
    cfg_args = ["--in-channels", str(a.in_channels), "--out-channels", str(a.out_channels),
                "--base", str(a.base), "--depth", str(a.depth), "--seed", str(a.seed)]
    if a.reuse and os.path.exists(path):
        return path, "reused"
    if unetc:
        ok, _, out = run_cmd([unetc, "init"] + cfg_args + ["--output", path], timeout=600,
                             what="unetc init")
        if ok:
            return path, "unetc init"
        log(f"WARNING: unetc init failed, falling back to make_weights.py:\n{out[-2000:]}")
    from make_weights import make_weights
    from safetensors.numpy import save_file
    t, meta = make_weights(a.in_channels, a.out_channels, a.base, a.depth, a.seed)
    save_file(t, path, metadata=meta)
    return path, "make_weights.py"


# ---------------------------------------------------------------- measurement

def measure(a, h, w, threads, onnx_path, input_path, variants, size_dir):
    """Interleaved repetitions at one thread count. Returns {system: dict}."""
    systems = []  # (name, kind, obj)
    for v in variants:
        systems.append((v.name, "unetc", v))
    workers = []
    try:
        for p in a.peers:
            label = peers_mod.SYSTEM_LABELS.get(p, p)
            try:
                wk = peers_mod.Worker(p, onnx_path, threads, input_path, warmup=a.warmup)
            except Exception as e:  # noqa: BLE001
                log(f"SKIP {label} threads={threads}: {e}")
                continue
            workers.append(wk)
            log(f"{label} threads={threads}: loaded + compiled + {a.warmup} warm-up in "
                f"{wk.load_s:.1f} s")
            systems.append((label, "peer", wk))
        times = {name: [] for name, _, _ in systems}
        trips = {name: [] for name, _, _ in systems}  # the round trip before each time's round
        outputs = {}
        failed = set()
        for rep in range(a.reps):
            # the machine's slow minutes show here first (crosscore.c; README, Speed)
            trip = run_crosscore(a.crosscore) if threads > 1 else None
            if trip is not None:
                a.trips.append(trip)
            k = rep % max(1, len(systems))
            for name, kind, obj in systems[k:] + systems[:k]:
                if name in failed:
                    continue
                # let the previous system's thread pool stop spinning (ORT, TBB and OpenMP
                # workers busy-wait a little after a parallel region) before timing the next
                time.sleep(a.settle_ms / 1e3)
                try:
                    if kind == "unetc":
                        out = None
                        if name not in outputs:
                            out = os.path.join(size_dir, f"out_{obj.algorithm}_t{threads}.f32")
                            outputs[name] = out
                        got = obj.run_ms(threads, input_path, a.runs_per_rep, out,
                                         timeout=a.run_timeout)
                    else:
                        got = [obj.run_ms()]
                    times[name] += got
                    trips[name] += [trip] * len(got)
                except Exception as e:  # noqa: BLE001
                    log(f"DROP {name} threads={threads}: {e}")
                    failed.add(name)
            log(f"{h}x{w} threads={threads} round {rep + 1}/{a.reps}: " + ", ".join(
                f"{n} {times[n][-1]:.1f} ms" for n, _, _ in systems if times[n] and n not in failed)
                + (f" (cross-core round trip {trip} ns)" if trip is not None else ""))
        res = {}
        for name, kind, obj in systems:
            if name in failed or not times[name]:
                continue
            if kind == "peer":
                out = os.path.join(size_dir, f"out_{obj.system}_t{threads}.f32")
                obj.save(out)
                outputs[name] = out
                rss = obj.rss_mib()
            else:
                rss = obj.rss_mib
            res[name] = {"kind": kind, "times_ms": times[name], "trips_ns": trips[name],
                         "rss_mib": rss, "output": outputs.get(name)}
        return res
    finally:
        for wk in workers:
            wk.close()


def fmt(x, spec):
    return "n/a" if x is None or (isinstance(x, float) and x != x) else format(x, spec)


def by_minute_table(results):
    """The multi-thread cells again, their rounds split by the round trip measured before
    each: the machine's usual minutes and its slow ones (SLOW_TRIP_NS). Empty when no round
    was slow, since the main table then says it all."""
    cells = [r for r in results if any(t is not None and t > SLOW_TRIP_NS for t in r["trips_ns"])]
    if not cells:
        return []
    out = ["", f"The multi-thread cells with rounds in slow minutes (cross-core round trip over "
           f"{SLOW_TRIP_NS} ns before the round), split by the kind of minute:", "",
           "| system | size | threads | usual: rounds | median ms | % of peak "
           "| slow: rounds | median ms | % of peak |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in cells:
        row = f"| {r['system']} | {r['height']}x{r['width']} | {r['threads']} "
        for slow in (False, True):
            ms = [t for t, trip in zip(r["times_ms"], r["trips_ns"])
                  if trip is not None and (trip > SLOW_TRIP_NS) == slow]
            med = statistics.median(ms) if ms else None
            pct = 100 * r["gflops"] * r["median_ms"] / med / r["peak_gflops"] \
                if med and r["peak_gflops"] else None
            row += f"| {len(ms)} | {fmt(med, '.1f')} | {fmt(pct, '.1f')} "
        out.append(row + "|")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--unetc", default=None, help="the unetc binary")
    ap.add_argument("--peers-only", action="store_true", help="measure only the peer runtimes")
    ap.add_argument("--sizes", default="256,512", help="comma list: 256 or HxW")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=5, help="interleaved rounds per thread count")
    ap.add_argument("--runs-per-rep", type=int, default=1,
                    help="timed runs per harness process (after its one warm-up)")
    ap.add_argument("--warmup", type=int, default=2, help="warm-up inferences per peer worker")
    ap.add_argument("--settle-ms", type=float, default=50,
                    help="pause before each timed system run (idle thread pools stop spinning)")
    ap.add_argument("--algorithms", default="auto,direct",
                    help="comma list of `unetc generate --algorithm` values; 'default' omits it; A+min adds --memory-mode min")
    ap.add_argument("--peers", default="ort,openvino", help="comma list from: ort, openvino")
    ap.add_argument("--generate-args", default="", help="extra arguments for unetc generate (write --generate-args='--x y')")
    ap.add_argument("--cflags", default="", help="extra C compiler flags for harness + unet.c (--cflags='-DX')")
    ap.add_argument("--cc", default=None, help=f"C compiler (default {DEFAULT_CC})")
    ap.add_argument("--weights", default=None, help="use this safetensors instead of init")
    ap.add_argument("--in-channels", type=int, default=3)
    ap.add_argument("--out-channels", type=int, default=1)
    ap.add_argument("--base", type=int, default=64)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--workdir", default=os.path.join(HERE, "out"))
    ap.add_argument("--reuse", action="store_true",
                    help="reuse weights, ONNX files and compiled harnesses already in --workdir")
    ap.add_argument("--generate-timeout", type=float, default=1800)
    ap.add_argument("--compile-timeout", type=float, default=3600)
    ap.add_argument("--run-timeout", type=float, default=600)
    a = ap.parse_args(argv)
    a.algorithms = [s for s in a.algorithms.split(",") if s] or ["default"]
    a.peers = [s for s in a.peers.split(",") if s]
    for p in a.peers:
        if p not in peers_mod.SYSTEMS:
            ap.error(f"unknown peer {p!r}")
    thread_list = [int(t) for t in a.threads.split(",") if t]
    sizes = parse_sizes(a.sizes)
    os.makedirs(a.workdir, exist_ok=True)
    cc = pick_cc(a.cc)

    unetc = None
    if not a.peers_only:
        cand = a.unetc or shutil.which("unetc")
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            unetc = os.path.abspath(cand)
        else:
            log(f"WARNING: unetc binary {cand!r} not found/executable: measuring peers only")
    has_alg = unetc_has_algorithm_flag(unetc) if unetc else False

    load_start = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    peak_start = measure_peak(cc, a.workdir, max(thread_list))
    a.crosscore = compile_tool(cc, a.workdir, "crosscore", ["-ffast-math"]) if max(thread_list) > 1 else None
    a.trips = []
    weights, weights_src = ensure_weights(a, unetc, a.workdir)
    tensors, meta = read_safetensors(weights)
    cfg = model_config(tensors, meta)
    log(f"weights {weights} ({weights_src}): {cfg}")

    import onnx
    results = []
    build_info = {}
    for (h, w) in sizes:
        size_dir = os.path.join(a.workdir, f"{a.batch}x{h}x{w}")
        os.makedirs(size_dir, exist_ok=True)
        flops = count_flops(cfg, a.batch, h, w)
        onnx_path = os.path.join(size_dir, "unet.onnx")
        if not (a.reuse and os.path.exists(onnx_path)):
            onnx.save(build_onnx(tensors, cfg, a.batch, h, w), onnx_path)
        in_shape = (a.batch, cfg["in_channels"], h, w)
        input_path = os.path.join(size_dir, "input.f32")
        np.random.default_rng(0).random(int(np.prod(in_shape)), dtype=np.float32) \
            .astype("<f4").tofile(input_path)
        out_shape = output_shape(cfg, a.batch, h, w)
        log(f"size {h}x{w}: {flops / 1e9:.2f} GFLOP, input {in_shape}, output {out_shape}")

        variants = []
        if unetc:
            variants = build_unetc_variants(a, cc, unetc, weights, h, w, size_dir, has_alg)
            for v in variants:
                build_info[f"{v.name} {h}x{w}"] = {"generate_s": v.gen_s, "compile_s": v.compile_s}
        for t in thread_list:
            res = measure(a, h, w, t, onnx_path, input_path, variants, size_dir)
            ref = next((n for n, r in res.items() if r["kind"] == "unetc"), None)
            ref_is_unetc = ref is not None
            if ref is None:
                ref = next(iter(res), None)
            ref_out = ref_med = None
            if ref is not None:
                ref_out = np.fromfile(res[ref]["output"], dtype="<f4")
                ref_med = statistics.median(res[ref]["times_ms"])
            for name, r in res.items():
                med = statistics.median(r["times_ms"])
                y = np.fromfile(r["output"], dtype="<f4") if r["output"] else None
                diff = None
                if y is not None and ref_out is not None and y.size == ref_out.size:
                    diff = float(np.max(np.abs(y.astype(np.float64) - ref_out)))
                gflops = flops / (med * 1e-3) / 1e9
                pk = peak_start.get(t)
                results.append({
                    "system": name, "kind": r["kind"], "height": h, "width": w, "threads": t,
                    "median_ms": med, "min_ms": min(r["times_ms"]), "times_ms": r["times_ms"],
                    "trips_ns": r["trips_ns"],
                    "gflops": gflops, "peak_gflops": pk,
                    "pct_peak": 100 * gflops / pk if pk else None,
                    "ratio": med / ref_med if ref_med else None, "reference": ref,
                    "reference_is_unetc": ref_is_unetc,
                    "rss_mib": r["rss_mib"], "max_abs_diff": diff,
                    "output_size": None if y is None else int(y.size),
                })

    peak_end = measure_peak(cc, a.workdir, max(thread_list))
    load_end = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    peak = {t: max(peak_start.get(t, 0), peak_end.get(t, 0)) for t in thread_list}
    for r in results:  # % of peak against the better of the two peak measurements
        pk = peak.get(r["threads"])
        r["peak_gflops"] = pk or None
        r["pct_peak"] = 100 * r["gflops"] / pk if pk else None

    # ------------------------------------------------------------ table
    any_unetc = any(r["reference_is_unetc"] for r in results)
    ref_names = sorted({r["reference"] for r in results if r["reference"]})
    lines = [
        "| system | size | threads | median ms | GFLOP/s | % of peak | ratio to unetc¹ "
        "| peak RSS MiB² | max abs diff from unetc³ |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['system']} | {r['height']}x{r['width']} | {r['threads']} "
            f"| {fmt(r['median_ms'], '.1f')} | {fmt(r['gflops'], '.1f')} "
            f"| {fmt(r['pct_peak'], '.1f')} | {fmt(r['ratio'], '.2f')} | {fmt(r['rss_mib'], '.0f')} "
            f"| {fmt(r['max_abs_diff'], '.2e')} |")
    ref_desc = ", ".join(ref_names) or "none"
    versions = peers_mod._versions()
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    cc_ver = subprocess.run([cc, "--version"], stdout=subprocess.PIPE, text=True).stdout \
        .splitlines()[0]
    notes = [
        "",
        f"¹ ratio = system median time / reference median time ({ref_desc}); > 1 means the system "
        f"is slower than the reference{'' if any_unetc else ' (no unetc build: the reference is the first peer)'}.",
        "² peak RSS of the process that ran the system: for unetc the harness (VmHWM, includes "
        "the weights compiled into the binary), for peers the Python worker (VmHWM, includes the "
        "interpreter, numpy and the runtime's libraries).",
        f"³ max |output - reference output| on the same input (uniform [0,1), seed 0); the "
        f"reference is {ref_desc}.",
        f"FLOPs = 2 x MACs of every conv and transposed conv: "
        + ", ".join(f"{h}x{w}: {count_flops(cfg, a.batch, h, w) / 1e9:.2f} GFLOP" for h, w in sizes)
        + f". Peak (peak.c, best of start/end of run): "
        + ", ".join(f"{t} thr {peak[t]:.0f} GFLOP/s" for t in thread_list if peak.get(t)) + ".",
        f"Model {cfg}, batch {a.batch}, weights {weights_src}. {a.reps} interleaved rounds per "
        f"thread count (unetc: fresh harness process per round, 1 warm-up + {a.runs_per_rep} timed "
        f"run(s), OMP_NUM_THREADS=T; peers: persistent worker, {a.warmup} warm-ups; ORT CPU EP "
        f"ORT_ENABLE_ALL intra_op=T inter_op=1; OpenVINO CPU LATENCY f32 INFERENCE_NUM_THREADS=T).",
        f"CPU {cpu} ({os.cpu_count()} logical CPUs), {cc_ver}, onnxruntime {versions.get('ort')}, "
        f"openvino {versions.get('openvino')}, Python {platform.python_version()}, "
        f"{datetime.datetime.now().isoformat(timespec='seconds')}. Load average (1/5/15 min) "
        f"at start {' '.join(load_start)}, at end {' '.join(load_end)} (other work on the "
        f"machine shows up mostly in the 2-thread rows); peak.c 2-thread GFLOP/s at start "
        f"{fmt(peak_start.get(2), '.0f')}, at end {fmt(peak_end.get(2), '.0f')}."
        + (f" Cross-core round trip (crosscore.c, before each multi-thread round) {min(a.trips)}-"
           f"{max(a.trips)} ns: 80-170 in this machine's usual minutes, 430-470 in its slow ones."
           if a.trips else ""),
    ]
    if build_info:
        notes.append("unetc build times: " + "; ".join(
            f"{k}: generate {fmt(v['generate_s'], '.1f')} s, compile {fmt(v['compile_s'], '.1f')} s"
            for k, v in build_info.items()) + ".")
    table = "\n".join(lines + notes + by_minute_table(results)) + "\n"
    print(table)
    with open(os.path.join(a.workdir, "results.md"), "w") as f:
        f.write(table)
    with open(os.path.join(a.workdir, "results.json"), "w") as f:
        json.dump({"config": cfg, "peak_start": peak_start, "peak_end": peak_end, "peak": peak,
                   "results": results, "build": build_info, "versions": versions,
                   "args": vars(a)}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
