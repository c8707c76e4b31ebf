#!/usr/bin/env python3
"""Check that train.py trained the network unetc compiles.

    python check_numpy.py --unetc UNETC [--fixtures ../../Tests/UNetCTests/Data]

1. unet_numpy.forward against PyTorch's float64 output on every golden fixture (odd sizes,
   centre crops, batch 2, 2 output channels): the numpy model is PyTorch's U-Net.
2. unet_numpy.forward against `unetc run` (the reference interpreter) with the trained
   weights on the sample picture: the saved weights mean to unetc what they meant in training.
Exits 1 when an error is above 1e-4.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from safetensors.numpy import load_file, save_file

import unet_numpy as unet

HERE = os.path.dirname(os.path.abspath(__file__))


def read_pgm(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, width, height, maxval = data.split(maxsplit=4)[:4]
    assert magic == b"P5" and maxval == b"255", f"{path}: expected a binary PGM with maxval 255"
    w, h = int(width), int(height)
    return np.frombuffer(data[-w * h:], np.uint8).reshape(h, w)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unetc", required=True)
    parser.add_argument("--fixtures", default=os.path.join(HERE, "..", "..", "Tests", "UNetCTests", "Data"))
    args = parser.parse_args()
    worst = 0.0

    for name in ["tiny", "odd", "batch", "small"]:
        weights = os.path.join(args.fixtures, f"{name}.weights.safetensors")
        if not os.path.exists(weights):
            print(f"{name}: no fixture at {weights}, skipped")
            continue
        io = load_file(os.path.join(args.fixtures, f"{name}.io.safetensors"))
        error = float(np.abs(unet.forward(load_file(weights), io["input"]) - io["output_f64"]).max())
        worst = max(worst, error)
        print(f"numpy vs PyTorch (float64), fixture {name}: max abs {error:.2e}")

    weights = os.path.join(HERE, "shapes.safetensors")
    x = (read_pgm(os.path.join(HERE, "sample.pgm")).astype(np.float32) / 255)[None, None]
    with tempfile.TemporaryDirectory() as tmp:
        save_file({"input": x}, os.path.join(tmp, "in.safetensors"))
        subprocess.run([args.unetc, "run", "--weights", weights, "--input", os.path.join(tmp, "in.safetensors"),
                        "--output", os.path.join(tmp, "out.safetensors")], check=True)
        reference = load_file(os.path.join(tmp, "out.safetensors"))["output"]
    error = float(np.abs(unet.forward(load_file(weights), x) - reference).max())
    worst = max(worst, error)
    print(f"numpy vs unetc run, shapes.safetensors on sample.pgm: max abs {error:.2e}")
    if not worst <= 1e-4:
        print("FAIL: above 1e-4")
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
