#!/usr/bin/env python3
"""Cross-check export_onnx.py: export every golden fixture, run it with ONNX Runtime and
compare with the PyTorch float64 reference (`output_f64`).

    check_onnx.py [--fixtures DIR] [--tol 1e-4]

Exit status 0 when every case is within --tol (max abs error), 1 otherwise.
"""
import argparse
import glob
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_onnx import build_onnx, model_config, read_safetensors  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", default="Tests/UNetCTests/Data")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--openvino", action="store_true",
                    help="also run each case with OpenVINO (CPU, f32) and check it")
    a = ap.parse_args(argv)

    import onnx
    import onnxruntime as ort

    cases = sorted(p[:-len(".weights.safetensors")]
                   for p in glob.glob(os.path.join(a.fixtures, "*.weights.safetensors")))
    if not cases:
        print(f"no fixtures in {a.fixtures}", file=sys.stderr)
        return 1
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            name = os.path.basename(case)
            tensors, meta = read_safetensors(case + ".weights.safetensors")
            io, _ = read_safetensors(case + ".io.safetensors")
            cfg = model_config(tensors, meta)
            x, ref64, ref32 = io["input"], io["output_f64"], io["output"]
            n, c, h, w = x.shape
            model = build_onnx(tensors, cfg, n, h, w)
            path = os.path.join(tmp, name + ".onnx")
            onnx.save(model, path)
            so = ort.SessionOptions()
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            so.intra_op_num_threads = 1
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            y = sess.run(["output"], {"input": x})[0]
            if y.shape != ref64.shape:
                print(f"{name:6s} shape {y.shape} != reference {ref64.shape}  FAIL")
                ok = False
                continue
            err = float(np.max(np.abs(y.astype(np.float64) - ref64)))
            err32 = float(np.max(np.abs(y.astype(np.float64) - ref32)))
            torch_err = float(np.max(np.abs(ref32.astype(np.float64) - ref64)))
            good = err <= a.tol
            ok &= good
            print(f"{name:6s} {cfg} input {tuple(x.shape)} -> {tuple(y.shape)}: "
                  f"max|ort - f64| = {err:.3e}  (max|ort - torch f32| = {err32:.3e}, "
                  f"max|torch f32 - f64| = {torch_err:.3e}, max|ref| = {np.max(np.abs(ref64)):.3f})"
                  f"  {'ok' if good else 'FAIL'}")
            if a.openvino:
                import openvino as ov
                cm = ov.Core().compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
                yov = cm({"input": x})[cm.output(0)]
                err_ov = float(np.max(np.abs(yov.astype(np.float64) - ref64)))
                ok &= err_ov <= a.tol
                print(f"{name:6s} openvino: max|ov - f64| = {err_ov:.3e}"
                      f"  {'ok' if err_ov <= a.tol else 'FAIL'}")
    print("all ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
