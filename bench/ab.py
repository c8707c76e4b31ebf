#!/usr/bin/env python3
"""Two builds of a U-Net's C, timed layer by layer, interleaved: is B faster than A?

    python3 bench/ab.py GEN_A GEN_B [--threads 2] [--rounds 10] [--runs 3] [--match REGEX]
                        [--busy-core CPU]

GEN_A and GEN_B are `unetc generate --external-weights` output directories (or with the
weights embedded), for the same model and input size: say the defaults and a tuning file, or
two unetc builds. Each is compiled into bench/layers.c (UNET_TRACE stamps every layer), their
outputs compared bit for bit, then `--rounds` processes of each are run alternately (A B, B A,
...), each one warm-up and `--runs` timed runs. Prints every layer's median over the processes
for A and B and the ratio B / A, then the whole run.

This machine's speed drifts from minute to minute, and in some minutes its two cores pass data
to each other 3-4x slower (README, Speed): bench/crosscore.c runs before and after each
process, and with 2 threads or more the rounds are split into "fast" (round trip under 250 ns
both times) and "slow" (over 250 ns both times); mixed ones are dropped. Only the same pair
of builds measured in the same minutes compares. The same directory given twice shows the
noise: on this machine 0.93-1.02x on the whole run with 2-6 rounds, so take 10 or more.

`--busy-core 1` keeps CPU 1 busy with a spinning process throughout: a parallel run then has a
thread on a core it shares, as an app beside other busy threads does, and a static split of the
work waits for that thread.
"""
import argparse
import array
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench import SLOW_TRIP_NS, compile_tool, pick_cc, run_crosscore  # noqa: E402
from layers import compile_layers, run_once  # noqa: E402


def build(cc, gen, out_dir, tag):
    """The command that runs layers.c built around GEN/unet.c: the executable, then the
    weights file where unet.c was generated with --external-weights."""
    exe = compile_layers(cc, gen, os.path.join(out_dir, f"layers_{tag}"))
    weights = os.path.join(gen, "unet_weights.bin")
    return [exe] + ([weights] if os.path.exists(weights) else [])


def run(cmd, threads, runs, dump=None):
    """{layer: median ms} of one process, "total" included; the output written to `dump`."""
    times, _ = run_once(cmd[0], threads, runs, cmd[1:], {"LAYERS_OUTPUT": dump} if dump else None)
    return {name: ns / 1e6 for name, ns in times}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", help="generate output directory A (the baseline)")
    ap.add_argument("b", help="generate output directory B")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=10, help="processes of each build")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per process")
    ap.add_argument("--match", default=None, help="print only the layers matching this regex (and the total)")
    ap.add_argument("--cc", default=None)
    ap.add_argument("--busy-core", type=int, default=None, metavar="CPU",
                    help="keep CPU busy with a spinning process of the same priority while the "
                         "rounds run: a core shared with another program (no fast/slow split)")
    a = ap.parse_args(argv)
    cc = pick_cc(a.cc)
    with tempfile.TemporaryDirectory() as tmp:
        cmds = {"A": build(cc, a.a, tmp, "a"), "B": build(cc, a.b, tmp, "b")}
        crosscore = compile_tool(cc, tmp, "crosscore", ["-ffast-math"]) if a.threads > 1 else None
        # The same layers, and the outputs compared (bit for bit, or the largest difference).
        names, outputs = {}, {}
        for k, c in cmds.items():
            names[k] = list(run(c, a.threads, 1, dump=os.path.join(tmp, f"out_{k}.f32")))
            outputs[k] = array.array("f", open(os.path.join(tmp, f"out_{k}.f32"), "rb").read())
        segments = {k: layer_segments(names[k], names["A" if k == "B" else "B"]) for k in names}
        if not segments["A"]:
            sys.exit(f"ab.py: the builds have no layers in common:\n  A {names['A']}\n  B {names['B']}")
        if outputs["A"].tobytes() == outputs["B"].tobytes():
            print("outputs: bit-identical")
        elif len(outputs["A"]) != len(outputs["B"]):
            sys.exit("ab.py: the builds have different output sizes")
        else:
            print(f"outputs: max abs difference {max(abs(x - y) for x, y in zip(outputs['A'], outputs['B'])):.3g}")
        res = {}
        spinner = busy(a.busy_core) if a.busy_core is not None else None
        if spinner:
            crosscore = None  # the spinning core answers slowly: no minutes to tell apart
            print(f"CPU {a.busy_core} kept busy by process {spinner.pid}")
        try:
            rounds(a, cmds, crosscore, res)
        finally:
            if spinner:
                spinner.kill()
                spinner.wait()
    pat = re.compile(a.match) if a.match else None
    for cls in ("all", "fast", "slow"):
        if (cls, "A", "total") not in res or (cls, "B", "total") not in res:
            continue
        na, nb = len(res[(cls, "A", "total")]), len(res[(cls, "B", "total")])
        counts = f"{na} processes of A, {nb} of B ({a.threads} thread{'s' if a.threads > 1 else ''}, {a.runs} runs each)"
        print(f"{cls} minutes: {counts}" if cls != "all" else counts)
        print(f"  {'layer':28s} {'A ms':>9s} {'B ms':>9s}  B/A")
        for (label, seg_a), (_, seg_b) in zip(segments["A"], segments["B"]):
            if label != "total" and pat and not pat.search(label):
                continue
            x, y = segment_median(res, cls, "A", seg_a), segment_median(res, cls, "B", seg_b)
            print(f"  {label:28s} {x:9.2f} {y:9.2f}  {y / x:.3f}")
    return 0


def rounds(a, cmds, crosscore, res):
    """Runs `a.rounds` processes of each build, alternately, into res[(minutes, build, layer)]."""
    for r in range(a.rounds):
        for k in ("A", "B") if r % 2 == 0 else ("B", "A"):
            before = run_crosscore(crosscore)
            times = run(cmds[k], a.threads, a.runs)
            after = run_crosscore(crosscore)
            if before is None:
                cls = "all"
            elif before < SLOW_TRIP_NS and after < SLOW_TRIP_NS:
                cls = "fast"
            elif before > SLOW_TRIP_NS and after > SLOW_TRIP_NS:
                cls = "slow"
            else:
                continue
            for name, ms in times.items():
                res.setdefault((cls, k, name), []).append(ms)


def busy(cpu):
    """A process spinning on `cpu` at the same priority: what a program sharing that core does
    to a parallel run (its threads there get a share of the core, not all of it)."""
    return subprocess.Popen([sys.executable, "-c",
                             f"import os\nos.sched_setaffinity(0, {{{cpu}}})\nwhile True:\n    pass\n"])


def layer_segments(mine, theirs):
    """[(label, layers)]: `mine` cut after each layer `theirs` has too. Where one build computes
    some layers inside another's loop (`generate --memory-mode min` groups), it stamps the clock
    once for all of them, so the two builds compare over the runs of layers between the stamps
    they share: "down_conv.0.first+down_conv.0.second" against "down_conv.0.second"."""
    shared, out, run = set(theirs), [], []
    for name in mine:
        run.append(name)
        if name in shared:
            out.append(("+".join(n for n in run if n != "total") or "total", run))
            run = []
    return out


def segment_median(res, cls, k, layers):
    """The median over the processes of the layers' summed time."""
    return statistics.median(map(sum, zip(*(res[(cls, k, name)] for name in layers))))


if __name__ == "__main__":
    sys.exit(main())
