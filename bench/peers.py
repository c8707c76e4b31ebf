#!/usr/bin/env python3
"""Peer runtimes for the benchmark: ONNX Runtime and OpenVINO on the CPU.

Library:
    make_runner(system, onnx_path, threads) -> callable(input ndarray) -> output ndarray
        system "ort":      ONNX Runtime, CPUExecutionProvider, ORT_ENABLE_ALL,
                           intra_op_num_threads = threads, inter_op_num_threads = 1, sequential.
        system "openvino": OpenVINO CPU plugin, PERFORMANCE_HINT=LATENCY,
                           INFERENCE_PRECISION_HINT=f32 (the default on CPUs with AVX512-BF16,
                           e.g. Zen 4/5, would be bf16!), INFERENCE_NUM_THREADS = threads.
    peak_rss_mib() -> VmHWM of this process in MiB.

CLI, a quick standalone measurement (each system in its own subprocess so that its peak RSS
is its own):
    peers.py MODEL.onnx [--systems ort,openvino] [--threads 1,2] [--reps 5] [--warmup 1]
             [--input FILE.f32]

Worker mode, used by bench.py to interleave repetitions across systems:
    peers.py --serve SYSTEM MODEL.onnx --threads T --input FILE.f32
reads commands on stdin, one per line, answers one line each on stdout:
    run          -> "ms <milliseconds>"          (one timed inference)
    save PATH    -> "ok"                         (last output as raw float32 to PATH)
    rss          -> "rss_mib <VmHWM in MiB>"
    quit         -> exits
On start it loads and compiles the model, runs --warmup inferences, then prints "ready <load s>".
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

SYSTEMS = ("ort", "openvino")
SYSTEM_LABELS = {"ort": "ONNX Runtime", "openvino": "OpenVINO"}


def _versions():
    out = {}
    try:
        import onnxruntime
        out["ort"] = onnxruntime.__version__
    except ImportError:
        pass
    try:
        import openvino
        out["openvino"] = openvino.__version__ if hasattr(openvino, "__version__") \
            else openvino.get_version()
    except ImportError:
        pass
    return out


def make_runner(system, onnx_path, threads):
    """Load + compile onnx_path for `system` with `threads` threads; returns run(x) -> y."""
    threads = int(threads)
    if system == "ort":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        in_name = sess.get_inputs()[0].name
        out_name = sess.get_outputs()[0].name

        def run(x):
            return sess.run([out_name], {in_name: x})[0]
        run.session = sess
        return run
    if system == "openvino":
        import openvino as ov
        core = ov.Core()
        config = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32",
            "INFERENCE_NUM_THREADS": threads,
        }
        compiled = core.compile_model(onnx_path, "CPU", config)
        prec = str(compiled.get_property("INFERENCE_PRECISION_HINT"))
        if "32" not in prec:
            raise RuntimeError(f"OpenVINO ignored INFERENCE_PRECISION_HINT=f32 (got {prec})")
        req = compiled.create_infer_request()
        out_port = compiled.output(0)

        def run(x):
            req.infer({0: x})
            return req.get_tensor(out_port).data.copy()
        run.compiled = compiled
        return run
    raise ValueError(f"unknown system {system!r} (known: {', '.join(SYSTEMS)})")


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def input_shape(onnx_path):
    import onnx
    m = onnx.load(onnx_path, load_external_data=False)
    return tuple(d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim)


def load_input(path, shape):
    """Raw little-endian float32 file, or deterministic uniform [0,1) data when path is None/'-'."""
    n = int(np.prod(shape))
    if path in (None, "-"):
        return np.random.default_rng(12345).random(n, dtype=np.float32).reshape(shape)
    x = np.fromfile(path, dtype="<f4")
    if x.size != n:
        raise ValueError(f"{path}: {x.size} floats, model input {shape} needs {n}")
    return x.astype(np.float32).reshape(shape)


def serve(system, onnx_path, threads, input_path, warmup):
    t0 = time.perf_counter()
    run = make_runner(system, onnx_path, threads)
    x = load_input(input_path, input_shape(onnx_path))
    y = None
    for _ in range(warmup):
        y = run(x)
    out = sys.stdout
    out.write(f"ready {time.perf_counter() - t0:.3f}\n")
    out.flush()
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "run":
            t = time.perf_counter()
            y = run(x)
            out.write(f"ms {(time.perf_counter() - t) * 1e3:.4f}\n")
        elif cmd[0] == "save":
            if y is None:
                y = run(x)
            np.ascontiguousarray(y, dtype="<f4").tofile(cmd[1])
            out.write("ok\n")
        elif cmd[0] == "rss":
            out.write(f"rss_mib {peak_rss_mib():.1f}\n")
        elif cmd[0] == "quit":
            break
        else:
            out.write(f"error unknown command {cmd[0]}\n")
        out.flush()


class Worker:
    """A `peers.py --serve` subprocess (used by bench.py and by the CLI below)."""

    def __init__(self, system, onnx_path, threads, input_path, warmup=1, python=None):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        self.system, self.threads = system, threads
        self.proc = subprocess.Popen(
            [python or sys.executable, os.path.abspath(__file__), "--serve", system, onnx_path,
             "--threads", str(threads), "--input", input_path or "-", "--warmup", str(warmup)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, bufsize=1)
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "ready":
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"{system} worker failed to start (threads={threads})")
        self.load_s = float(line[1])

    def _ask(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().split()
        if not line or line[0] == "error":
            raise RuntimeError(f"{self.system} worker: {cmd!r} -> {line}")
        return line

    def run_ms(self):
        return float(self._ask("run")[1])

    def save(self, path):
        self._ask(f"save {path}")

    def rss_mib(self):
        return float(self._ask("rss")[1])

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except Exception:
                self.proc.kill()
                self.proc.wait()


def main(argv=None):
    ap = argparse.ArgumentParser(description="ONNX Runtime / OpenVINO CPU latency")
    ap.add_argument("--serve", metavar="SYSTEM", help=argparse.SUPPRESS)
    ap.add_argument("model")
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--input", default="-", help="raw float32 input file, or - for random")
    a = ap.parse_args(argv)

    if a.serve:
        serve(a.serve, a.model, int(a.threads), a.input, a.warmup)
        return 0

    systems = [s for s in a.systems.split(",") if s]
    print(f"versions: {_versions()}; model {a.model}, input {input_shape(a.model)}")
    for t in (int(v) for v in a.threads.split(",")):
        workers = []
        for s in systems:
            w = Worker(s, a.model, t, a.input, a.warmup)
            workers.append(w)
        times = {w.system: [] for w in workers}
        for _ in range(a.reps):  # round-robin so that machine noise hits every system alike
            for w in workers:
                times[w.system].append(w.run_ms())
        for w in workers:
            ts = times[w.system]
            print(f"{SYSTEM_LABELS[w.system]:13s} threads={t}  median {statistics.median(ts):8.2f} ms"
                  f"  min {min(ts):8.2f}  max {max(ts):8.2f}  (n={len(ts)}, load {w.load_s:.1f} s,"
                  f" peak RSS {w.rss_mib():.0f} MiB)  runs: {' '.join(f'{v:.1f}' for v in ts)}")
            w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
