#!/usr/bin/env python3
"""Export a classic U-Net (weights in safetensors) to a static-shape ONNX graph.

    export_onnx.py WEIGHTS.safetensors OUT.onnx [--height H --width W --batch N]

Benchmarking / cross-checking only: the graph is built directly with onnx.helper
(Conv, Relu, MaxPool, ConvTranspose, Slice for the centre crop, Concat), NCHW float32,
every shape static. Also a small library used by the other bench scripts:

    read_safetensors(path) -> (dict name -> np.ndarray, metadata dict)
    model_config(tensors, metadata) -> dict(in_channels, out_channels, base, depth)
    layer_plan(cfg, batch, height, width) -> list of layers with shapes
    count_flops(cfg, batch, height, width) -> 2 * MACs of every conv / transposed conv
    build_onnx(tensors, cfg, batch, height, width) -> onnx.ModelProto
"""
import argparse
import json
import struct
import sys

import numpy as np

_ST_DTYPES = {
    "F32": np.float32, "F64": np.float64, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U8": np.uint8, "BOOL": np.bool_,
}


def read_safetensors(path):
    """Tiny safetensors reader: returns ({name: ndarray}, metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    (hlen,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + hlen].decode("utf-8"))
    meta = header.pop("__metadata__", None) or {}
    base = 8 + hlen
    tensors = {}
    for name, info in header.items():
        dt = np.dtype(_ST_DTYPES[info["dtype"]]).newbyteorder("<")
        b, e = info["data_offsets"]
        arr = np.frombuffer(data, dtype=dt, count=(e - b) // dt.itemsize, offset=base + b)
        tensors[name] = arr.reshape(info["shape"]).astype(dt.newbyteorder("="), copy=True)
    return tensors, meta


def model_config(tensors, meta=None):
    """in/out channels, base, depth: from metadata when present, checked against shapes."""
    depth = 0
    while f"down_conv.{depth}.first.weight" in tensors:
        depth += 1
    if depth == 0:
        raise ValueError("no down_conv.0.first.weight: not a classic U-Net state_dict")
    w0 = tensors["down_conv.0.first.weight"]
    cfg = {
        "in_channels": int(w0.shape[1]),
        "base": int(w0.shape[0]),
        "out_channels": int(tensors["final_conv.weight"].shape[0]),
        "depth": depth,
    }
    for k, v in (meta or {}).items():
        if k in cfg and int(v) != cfg[k]:
            raise ValueError(f"metadata {k}={v} disagrees with tensor shapes ({cfg[k]})")
    return cfg


def _double_conv_names(prefix):
    return [(f"{prefix}.first", "conv3"), (f"{prefix}.second", "conv3")]


def layer_plan(cfg, batch, height, width):
    """Every compute layer with its shapes. Each entry:
    dict(name, kind in {conv3, pool, convT, crop, concat, conv1}, cin, cout, h, w (output), macs)."""
    base, depth = cfg["base"], cfg["depth"]
    layers = []
    h, w, c = height, width, cfg["in_channels"]

    def conv(name, cin, cout, h, w, k):
        layers.append(dict(name=name, kind="conv3" if k == 3 else "conv1", cin=cin, cout=cout,
                           h=h, w=w, macs=batch * cout * cin * k * k * h * w))

    skips = []
    for k in range(depth):
        cout = base * 2 ** k
        conv(f"down_conv.{k}.first", c, cout, h, w, 3)
        conv(f"down_conv.{k}.second", cout, cout, h, w, 3)
        c = cout
        skips.append((c, h, w))
        h, w = h // 2, w // 2
        if h < 1 or w < 1:
            raise ValueError(f"input {height}x{width} too small for depth {depth}")
        layers.append(dict(name=f"pool.{k}", kind="pool", cin=c, cout=c, h=h, w=w, macs=0))
    cout = base * 2 ** depth
    conv("middle_conv.first", c, cout, h, w, 3)
    conv("middle_conv.second", cout, cout, h, w, 3)
    c = cout
    for j in range(depth):
        cout = base * 2 ** (depth - j - 1)
        layers.append(dict(name=f"up_sample.{j}.up", kind="convT", cin=c, cout=cout,
                           h=2 * h, w=2 * w, macs=batch * c * cout * 4 * h * w))
        h, w, c = 2 * h, 2 * w, cout
        sc, sh, sw = skips[depth - 1 - j]
        if sh < h or sw < w:
            raise ValueError("skip smaller than upsampled map (cannot happen with floor pooling)")
        top, left = int(round((sh - h) / 2.0)), int(round((sw - w) / 2.0))  # half to even
        layers.append(dict(name=f"crop.{j}", kind="crop", cin=sc, cout=sc, h=h, w=w, macs=0,
                           top=top, left=left, src_h=sh, src_w=sw))
        layers.append(dict(name=f"concat.{j}", kind="concat", cin=c + sc, cout=c + sc,
                           h=h, w=w, macs=0))
        conv(f"up_conv.{j}.first", c + sc, cout, h, w, 3)
        conv(f"up_conv.{j}.second", cout, cout, h, w, 3)
    conv("final_conv", c, cfg["out_channels"], h, w, 1)
    return layers


def output_shape(cfg, batch, height, width):
    last = layer_plan(cfg, batch, height, width)[-1]
    return (batch, cfg["out_channels"], last["h"], last["w"])


def count_flops(cfg, batch, height, width):
    """2 * multiply-accumulates of all convolutions, transposed ones included."""
    return 2 * sum(l["macs"] for l in layer_plan(cfg, batch, height, width))


def build_onnx(tensors, cfg, batch, height, width, opset=17):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    plan = layer_plan(cfg, batch, height, width)
    nodes, inits = [], []
    used = set()

    def init(name):
        arr = np.ascontiguousarray(tensors[name], dtype=np.float32)
        inits.append(numpy_helper.from_array(arr, name))
        used.add(name)
        return name

    def check_shape(name, shape):
        got = tuple(tensors[name].shape)
        if got != tuple(shape):
            raise ValueError(f"{name}: shape {got}, expected {tuple(shape)}")

    def conv(prefix, x, cin, cout, k, relu):
        check_shape(f"{prefix}.weight", (cout, cin, k, k))
        check_shape(f"{prefix}.bias", (cout,))
        y = prefix + ".conv"
        nodes.append(helper.make_node(
            "Conv", [x, init(f"{prefix}.weight"), init(f"{prefix}.bias")], [y], name=prefix,
            kernel_shape=[k, k], pads=[k // 2] * 4, strides=[1, 1], dilations=[1, 1], group=1))
        if relu:
            nodes.append(helper.make_node("Relu", [y], [prefix + ".relu"], name=prefix + ".relu"))
            y = prefix + ".relu"
        return y

    x = "input"
    skips = []
    for layer in plan:
        kind, name = layer["kind"], layer["name"]
        if kind == "conv3":
            x = conv(name, x, layer["cin"], layer["cout"], 3, relu=True)
            if name.startswith("down_conv.") and name.endswith(".second"):
                skips.append(x)
        elif kind == "pool":
            y = name
            nodes.append(helper.make_node("MaxPool", [x], [y], name=name, kernel_shape=[2, 2],
                                          strides=[2, 2], pads=[0, 0, 0, 0], ceil_mode=0))
            x = y
        elif kind == "convT":
            cin, cout = layer["cin"], layer["cout"]
            check_shape(f"{name}.weight", (cin, cout, 2, 2))
            check_shape(f"{name}.bias", (cout,))
            y = name + ".convT"
            nodes.append(helper.make_node(
                "ConvTranspose", [x, init(f"{name}.weight"), init(f"{name}.bias")], [y], name=name,
                kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0], group=1))
            x = y
        elif kind == "crop":
            skip = skips.pop()
            top, left, h, w = layer["top"], layer["left"], layer["h"], layer["w"]
            if (layer["src_h"], layer["src_w"]) == (h, w):
                cropped = skip
            else:
                cropped = name
                consts = {"starts": [top, left], "ends": [top + h, left + w], "axes": [2, 3]}
                for key, val in consts.items():
                    inits.append(numpy_helper.from_array(np.array(val, dtype=np.int64),
                                                         f"{name}.{key}"))
                nodes.append(helper.make_node(
                    "Slice", [skip, f"{name}.starts", f"{name}.ends", f"{name}.axes"], [cropped],
                    name=name))
        elif kind == "concat":
            y = name
            nodes.append(helper.make_node("Concat", [x, cropped], [y], name=name, axis=1))
            x = y
        elif kind == "conv1":
            x = conv(name, x, layer["cin"], layer["cout"], 1, relu=False)
    nodes.append(helper.make_node("Identity", [x], ["output"], name="output"))

    unused = sorted(set(tensors) - used)
    if unused:
        raise ValueError(f"tensors not used by the model: {unused}")

    out_shape = output_shape(cfg, batch, height, width)
    graph = helper.make_graph(
        nodes, "unet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                       [batch, cfg["in_channels"], height, width])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, list(out_shape))],
        initializer=inits)
    model = helper.make_model(graph, producer_name="unetc-bench",
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8  # readable by every current runtime
    onnx.checker.check_model(model)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    got = [d.dim_value for d in inferred.graph.output[0].type.tensor_type.shape.dim]
    if tuple(got) != tuple(out_shape):
        raise ValueError(f"ONNX shape inference gives output {got}, expected {out_shape}")
    return model


def export(weights_path, out_path, height=None, width=None, batch=1):
    import onnx
    tensors, meta = read_safetensors(weights_path)
    cfg = model_config(tensors, meta)
    if height is None or width is None:
        raise ValueError("--height and --width are required")
    model = build_onnx(tensors, cfg, batch, height, width)
    onnx.save(model, out_path)
    return cfg


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights")
    ap.add_argument("output")
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--batch", type=int, default=1)
    a = ap.parse_args(argv)
    cfg = export(a.weights, a.output, a.height, a.width, a.batch)
    flops = count_flops(cfg, a.batch, a.height, a.width)
    print(f"{a.output}: {cfg}, input {a.batch}x{cfg['in_channels']}x{a.height}x{a.width}, "
          f"output {'x'.join(map(str, output_shape(cfg, a.batch, a.height, a.width)))}, "
          f"{flops / 1e9:.2f} GFLOP", file=sys.stderr)


if __name__ == "__main__":
    main()
