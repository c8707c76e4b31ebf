#!/usr/bin/env python3
"""From PyTorch to C: save a U-Net's state_dict as safetensors and check unetc against PyTorch.

With PyTorch installed:

    python from_pytorch.py --out DIR                        # a fresh UNet(3, 1, base 8, depth 4)
    python from_pytorch.py --state-dict model.pt --height 256 --width 256 --out DIR
                                                            # your trained torch.save(model.state_dict(), ...)

builds the UNet below, loads the state_dict (strict: every key must match), runs it on a
seeded random input in [0, 1) and writes

    DIR/model.safetensors      the state_dict, float32, PyTorch's keys, with in_channels,
                               out_channels, base and depth as metadata
    DIR/model.io.safetensors   'input' and 'output': the input and PyTorch's output

then runs `unetc verify --weights DIR/model.safetensors --input DIR/model.io.safetensors`,
which compiles the generated C, runs it and unetc's reference interpreter on the input and
prints both errors, against the interpreter and against PyTorch's output. This script
exits 1 if either is above --atol.

Without PyTorch, the same steps take numpy arrays in place of tensors:

    python from_pytorch.py --weights-from W.safetensors --io-from X.safetensors --out DIR

reads a state_dict and an 'input'/'output' pair computed by PyTorch earlier (for example
Tests/UNetCTests/Data/small.*.safetensors), and goes through the same export, io and verify
functions. Needs numpy only (and torch for the first form); no safetensors package.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


# --- the model, exactly as unetc expects it (needs torch) ---

def define_model():
    """The classic U-Net's PyTorch classes; imported lazily so the rest works without torch."""
    import torch
    from torch import nn

    class DoubleConvolution(nn.Module):
        """Conv2d 3x3 padding 1 + ReLU, twice."""

        def __init__(self, in_channels, out_channels):
            super().__init__()
            self.first = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
            self.act1 = nn.ReLU()
            self.second = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
            self.act2 = nn.ReLU()

        def forward(self, x):
            return self.act2(self.second(self.act1(self.first(x))))

    class UpSample(nn.Module):
        def __init__(self, in_channels, out_channels):
            super().__init__()
            self.up = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)

        def forward(self, x):
            return self.up(x)

    def center_crop(x, height, width):
        """torchvision.transforms.functional.center_crop (Python's round: halves to even)."""
        top = int(round((x.shape[2] - height) / 2.0))
        left = int(round((x.shape[3] - width) / 2.0))
        return x[:, :, top:top + height, left:left + width]

    class UNet(nn.Module):
        def __init__(self, in_channels=3, out_channels=1, base=64, depth=4):
            super().__init__()
            widths = [base * 2 ** k for k in range(depth + 1)]
            self.down_conv = nn.ModuleList(
                [DoubleConvolution(in_channels if k == 0 else widths[k - 1], widths[k]) for k in range(depth)])
            self.down_sample = nn.ModuleList([nn.MaxPool2d(2) for _ in range(depth)])
            self.middle_conv = DoubleConvolution(widths[depth - 1], widths[depth])
            self.up_sample = nn.ModuleList([UpSample(widths[k + 1], widths[k]) for k in reversed(range(depth))])
            self.up_conv = nn.ModuleList([DoubleConvolution(widths[k + 1], widths[k]) for k in reversed(range(depth))])
            self.final_conv = nn.Conv2d(base, out_channels, kernel_size=1)

        def forward(self, x):
            skips = []
            for conv, pool in zip(self.down_conv, self.down_sample):
                x = conv(x)
                skips.append(x)
                x = pool(x)
            x = self.middle_conv(x)
            for up, conv in zip(self.up_sample, self.up_conv):
                x = up(x)
                x = torch.cat([x, center_crop(skips.pop(), x.shape[2], x.shape[3])], dim=1)
                x = conv(x)
            return self.final_conv(x)

    return torch, UNet


# --- the core: plain numpy, testable without torch ---

def parameter_shapes(in_channels, out_channels, base, depth):
    """Every key of the U-Net's state_dict with its shape."""
    shapes = {}

    def double(name, cin, cout):
        shapes.update({f"{name}.first.weight": (cout, cin, 3, 3), f"{name}.first.bias": (cout,),
                       f"{name}.second.weight": (cout, cout, 3, 3), f"{name}.second.bias": (cout,)})

    width = [base * 2 ** k for k in range(depth + 1)]
    for k in range(depth):
        double(f"down_conv.{k}", in_channels if k == 0 else width[k - 1], width[k])
    double("middle_conv", width[depth - 1], width[depth])
    for j, k in enumerate(reversed(range(depth))):
        shapes[f"up_sample.{j}.up.weight"] = (width[k + 1], width[k], 2, 2)
        shapes[f"up_sample.{j}.up.bias"] = (width[k],)
        double(f"up_conv.{j}", width[k + 1], width[k])
    shapes["final_conv.weight"] = (out_channels, base, 1, 1)
    shapes["final_conv.bias"] = (out_channels,)
    return shapes


def to_numpy(value):
    """A torch tensor (on any device, any float type) or an array-like, as float32 numpy."""
    if hasattr(value, "detach"):
        value = value.detach().to("cpu").float().numpy()
    return np.ascontiguousarray(np.asarray(value, dtype=np.float32))


def clean_state_dict(state_dict):
    """The state_dict as float32 numpy arrays, with DataParallel's `module.` and torch.compile's
    `_orig_mod.` prefixes removed, and the config (in, out, base, depth) inferred from the
    shapes. Raises ValueError naming the key when it is not the U-Net unetc compiles."""
    weights = {}
    for key, value in state_dict.items():
        key = re.sub(r"^(module\.|_orig_mod\.)+", "", key)
        weights[key] = to_numpy(value)
    for key in ("down_conv.0.first.weight", "final_conv.weight"):
        if key not in weights:
            raise ValueError(f"missing key '{key}': is this a U-Net state_dict? (keys: {sorted(weights)[:4]} ...)")
    base, in_channels = weights["down_conv.0.first.weight"].shape[:2]
    out_channels = weights["final_conv.weight"].shape[0]
    depth = 0
    while f"down_conv.{depth}.first.weight" in weights:
        depth += 1
    config = dict(in_channels=int(in_channels), out_channels=int(out_channels), base=int(base), depth=depth)
    expected = parameter_shapes(**config)
    for key, shape in expected.items():
        if key not in weights:
            raise ValueError(f"missing key '{key}' (expected shape {list(shape)} for a U-Net with {config})")
        if weights[key].shape != shape:
            raise ValueError(f"'{key}': expected shape {list(shape)}, found {list(weights[key].shape)} ({config})")
    extra = sorted(set(weights) - set(expected))
    if extra:
        raise ValueError(f"unexpected key '{extra[0]}' {list(weights[extra[0]].shape)}: not a parameter of a U-Net with {config}")
    return weights, config


def save_safetensors(path, tensors, metadata=None):
    """Writes float32 arrays in the safetensors format: an 8-byte little-endian header length,
    the JSON header (padded to 8 bytes), then the little-endian data in header order."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for key in sorted(tensors):
        blob = np.ascontiguousarray(tensors[key], dtype="<f4").tobytes()
        header[key] = {"dtype": "F32", "shape": list(tensors[key].shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def load_safetensors(path):
    """(tensors as float32 numpy arrays, metadata) of a safetensors file (F32, F16 or BF16)."""
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for key, info in header.items():
        start, end = (8 + n + o for o in info["data_offsets"])
        raw = data[start:end]
        if info["dtype"] == "F32":
            a = np.frombuffer(raw, "<f4")
        elif info["dtype"] == "F16":
            a = np.frombuffer(raw, "<f2").astype(np.float32)
        elif info["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f"{path}: tensor '{key}' has dtype {info['dtype']}; F32, F16 or BF16 expected")
        tensors[key] = a.reshape(info["shape"]).astype(np.float32)
    return tensors, metadata


def export(state_dict, path):
    """Saves a U-Net state_dict (torch tensors or numpy arrays) for unetc; returns the config."""
    weights, config = clean_state_dict(state_dict)
    save_safetensors(path, weights, metadata=config)
    return config


def write_io(path, input, output):
    """Writes the input (NCHW) and the framework's output, which `unetc verify --input` reads."""
    x, y = to_numpy(input), to_numpy(output)
    if x.ndim != 4 or y.ndim != 4 or x.shape[0] != y.shape[0]:
        raise ValueError(f"input {list(x.shape)} and output {list(y.shape)} must be NCHW with the same batch")
    save_safetensors(path, {"input": x, "output": y},
                     metadata=dict(batch=x.shape[0], height=x.shape[2], width=x.shape[3]))


def find_unetc(given=None):
    for candidate in (given, os.environ.get("UNETC"),
                      os.path.normpath(os.path.join(HERE, "..", "..", ".build", "release", "unetc")), shutil.which("unetc")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    sys.exit("unetc not found: build it (swift build -c release), or pass --unetc or set UNETC")


def verify(unetc, weights_path, io_path, atol=1e-4, extra=()):
    """Runs `unetc verify` and returns (ok, max abs error vs the interpreter, vs PyTorch, its output)."""
    command = [unetc, "verify", "--weights", weights_path, "--input", io_path, "--atol", str(atol), *extra]
    print("$ " + " ".join(command), flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    text = result.stdout + result.stderr

    def error(label):
        m = re.search(re.escape(label) + r": max abs ([0-9.eE+-]+|nan)", text)
        return float(m.group(1)) if m else float("nan")

    vs_interpreter = error("C vs interpreter")
    vs_pytorch = error("C vs the file's 'output'")
    ok = result.returncode == 0 and vs_interpreter <= atol and vs_pytorch <= atol
    return ok, vs_interpreter, vs_pytorch, text


def round_trip(state_dict, input, output, out_dir, unetc, atol=1e-4, extra=()):
    """The whole path: export, write the io file, verify. Returns True when unetc's C agrees
    with the interpreter and with `output` (PyTorch's) within atol."""
    os.makedirs(out_dir, exist_ok=True)
    weights_path = os.path.join(out_dir, "model.safetensors")
    io_path = os.path.join(out_dir, "model.io.safetensors")
    config = export(state_dict, weights_path)
    write_io(io_path, input, output)
    print(f"wrote {weights_path} (U-Net {config}) and {io_path} (input {list(to_numpy(input).shape)})")
    ok, vs_interpreter, vs_pytorch, text = verify(unetc, weights_path, io_path, atol, extra)
    print(text, end="")
    print(f"{'OK' if ok else 'FAIL'}: generated C vs PyTorch max abs {vs_pytorch:.3e}, "
          f"vs unetc's interpreter {vs_interpreter:.3e} (atol {atol:g})")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--out", default="from_pytorch_out", help="directory for the two safetensors files")
    parser.add_argument("--unetc", help="the unetc binary (default: $UNETC, ../../.build/release/unetc, PATH)")
    parser.add_argument("--atol", type=float, default=1e-4)
    parser.add_argument("--verify-args", default="", help="more arguments for unetc verify, e.g. \"--cc gcc\"")
    torch_group = parser.add_argument_group("with PyTorch")
    torch_group.add_argument("--state-dict", help="a file written by torch.save(model.state_dict(), ...)")
    torch_group.add_argument("--in-channels", type=int, default=3)
    torch_group.add_argument("--out-channels", type=int, default=1)
    torch_group.add_argument("--base", type=int, default=8)
    torch_group.add_argument("--depth", type=int, default=4)
    torch_group.add_argument("--batch", type=int, default=1)
    torch_group.add_argument("--height", type=int, default=64)
    torch_group.add_argument("--width", type=int, default=80)
    numpy_group = parser.add_argument_group("without PyTorch (numpy stand-ins)")
    numpy_group.add_argument("--weights-from", help="a safetensors state_dict to use as the model's")
    numpy_group.add_argument("--io-from", help="a safetensors file with 'input' and PyTorch's 'output'")
    args = parser.parse_args()
    unetc = find_unetc(args.unetc)
    extra = args.verify_args.split()

    if args.weights_from or args.io_from:
        if not (args.weights_from and args.io_from):
            parser.error("--weights-from and --io-from go together")
        state_dict, _ = load_safetensors(args.weights_from)
        io, _ = load_safetensors(args.io_from)
        if "input" not in io or "output" not in io:
            parser.error(f"{args.io_from}: needs tensors 'input' and 'output' (found {sorted(io)})")
        ok = round_trip(state_dict, io["input"], io["output"], args.out, unetc, args.atol, extra)
        sys.exit(0 if ok else 1)

    try:
        torch, UNet = define_model()
    except ImportError:
        sys.exit("PyTorch is not installed: pip install torch, or use --weights-from and --io-from")
    torch.manual_seed(0)
    if args.state_dict:
        state_dict = torch.load(args.state_dict, map_location="cpu", weights_only=True)
        _, config = clean_state_dict(state_dict)
        model = UNet(**config)
        model.load_state_dict({re.sub(r"^(module\.|_orig_mod\.)+", "", k): v for k, v in state_dict.items()})
    else:
        model = UNet(args.in_channels, args.out_channels, args.base, args.depth)
        config = dict(in_channels=args.in_channels)
    model.eval()
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(args.batch, config["in_channels"], args.height, args.width, generator=generator)
    with torch.no_grad():
        y = model(x)
    ok = round_trip(model.state_dict(), x, y, args.out, unetc, args.atol, extra)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
