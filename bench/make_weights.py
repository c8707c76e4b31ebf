#!/usr/bin/env python3
"""Throwaway weight generator for benchmarking before/without `unetc init`.

    make_weights.py --output W.safetensors [--in-channels 3 --out-channels 1 --base 64
                    --depth 4 --seed 0]

Same key names and shapes as a classic U-Net state_dict (and the golden fixtures):
3x3 conv weights ~ N(0, 2/fan_in) (fan_in = in*9), transposed-conv and final 1x1 weights
~ N(0, 1/in_channels), biases ~ U(-0.1, 0.1); float32; metadata in_channels, out_channels,
base, depth. (numpy's generator, so the values differ from `unetc init --seed`.)
"""
import argparse

import numpy as np


def make_weights(in_channels=3, out_channels=1, base=64, depth=4, seed=0):
    rng = np.random.default_rng(seed)
    t = {}

    def conv(prefix, cin, cout, k, std):
        t[f"{prefix}.weight"] = (rng.standard_normal((cout, cin, k, k)) * std).astype(np.float32)
        t[f"{prefix}.bias"] = rng.uniform(-0.1, 0.1, cout).astype(np.float32)

    def double(prefix, cin, cout):
        conv(f"{prefix}.first", cin, cout, 3, np.sqrt(2.0 / (cin * 9)))
        conv(f"{prefix}.second", cout, cout, 3, np.sqrt(2.0 / (cout * 9)))

    c = in_channels
    for k in range(depth):
        double(f"down_conv.{k}", c, base * 2 ** k)
        c = base * 2 ** k
    double("middle_conv", c, base * 2 ** depth)
    c = base * 2 ** depth
    for j in range(depth):
        out = base * 2 ** (depth - j - 1)
        t[f"up_sample.{j}.up.weight"] = (rng.standard_normal((c, out, 2, 2))
                                         * np.sqrt(1.0 / c)).astype(np.float32)
        t[f"up_sample.{j}.up.bias"] = rng.uniform(-0.1, 0.1, out).astype(np.float32)
        double(f"up_conv.{j}", 2 * out, out)
        c = out
    conv("final_conv", c, out_channels, 1, np.sqrt(1.0 / c))
    meta = {"in_channels": str(in_channels), "out_channels": str(out_channels),
            "base": str(base), "depth": str(depth)}
    return t, meta


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--output", required=True)
    ap.add_argument("--in-channels", type=int, default=3)
    ap.add_argument("--out-channels", type=int, default=1)
    ap.add_argument("--base", type=int, default=64)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    from safetensors.numpy import save_file
    t, meta = make_weights(a.in_channels, a.out_channels, a.base, a.depth, a.seed)
    save_file(t, a.output, metadata=meta)
    n = sum(v.size for v in t.values())
    print(f"{a.output}: {len(t)} tensors, {n} parameters")


if __name__ == "__main__":
    main()
