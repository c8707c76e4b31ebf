"""The classic U-Net in numpy: forward for any size, backward for training.

The same network unetc compiles, with PyTorch's state_dict keys: DoubleConvolution (Conv2d 3x3
padding 1 + ReLU, twice) as `down_conv.{k}`, MaxPool2d(2) (floor), `middle_conv`,
ConvTranspose2d k2 s2 as `up_sample.{j}.up` (weight [in, out, 2, 2]), torchvision's
center_crop of the skip (top = round((H - h) / 2), halves to even), cat([up, skip], 1),
`up_conv.{j}`, and a 1x1 `final_conv`. `up_sample.0` / `up_conv.0` are the deepest.

Activations are kept as (channels, batch, height, width) so a convolution is one matrix
product with no transposes; `forward` takes and returns NCHW like PyTorch.
"""

import numpy as np

TAPS = [(i, j) for i in range(3) for j in range(3)]


def parameter_shapes(in_channels, out_channels, base, depth):
    """Every state_dict key with its shape, in PyTorch's order."""
    shapes = {}

    def double(name, cin, cout):
        shapes[f"{name}.first.weight"] = (cout, cin, 3, 3)
        shapes[f"{name}.first.bias"] = (cout,)
        shapes[f"{name}.second.weight"] = (cout, cout, 3, 3)
        shapes[f"{name}.second.bias"] = (cout,)

    width = [base << k for k in range(depth + 1)]
    for k in range(depth):
        double(f"down_conv.{k}", in_channels if k == 0 else width[k - 1], width[k])
    double("middle_conv", width[depth - 1], width[depth])
    for j in range(depth):
        k = depth - 1 - j
        shapes[f"up_sample.{j}.up.weight"] = (width[k + 1], width[k], 2, 2)
        shapes[f"up_sample.{j}.up.bias"] = (width[k],)
        double(f"up_conv.{j}", width[k + 1], width[k])
    shapes["final_conv.weight"] = (out_channels, base, 1, 1)
    shapes["final_conv.bias"] = (out_channels,)
    return shapes


def config_of(params):
    """(in_channels, out_channels, base, depth) from the weight shapes, as unetc infers them."""
    base, cin = params["down_conv.0.first.weight"].shape[:2]
    depth = 0
    while f"down_conv.{depth}.first.weight" in params:
        depth += 1
    return cin, params["final_conv.weight"].shape[0], base, depth


def init_params(in_channels, out_channels, base, depth, rng):
    """He-normal convolutions, N(0, 1/in) transposed and final convolutions, zero biases."""
    params = {}
    for key, shape in parameter_shapes(in_channels, out_channels, base, depth).items():
        if key.endswith(".bias"):
            params[key] = np.zeros(shape, np.float32)
        elif ".up." in key or key.startswith("final_conv"):
            params[key] = (rng.standard_normal(shape) / np.sqrt(shape[0] if ".up." in key else shape[1])).astype(np.float32)
        else:
            params[key] = (rng.standard_normal(shape) * np.sqrt(2.0 / (shape[1] * 9))).astype(np.float32)
    return params


# --- layers: forward returns (y, cache), backward takes (dy, cache) and returns dx and grads ---

def conv3_forward(x, w, b):
    c, n, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.stack([xp[:, :, i:i + h, j:j + wd] for i, j in TAPS], axis=1).reshape(c * 9, -1)
    y = w.reshape(w.shape[0], -1) @ cols + b[:, None]
    return y.reshape(w.shape[0], n, h, wd), (x.shape, cols, w)


def conv3_backward(dy, cache):
    shape, cols, w = cache
    c, n, h, wd = shape
    dy2 = dy.reshape(dy.shape[0], -1)
    dw = (dy2 @ cols.T).reshape(w.shape)
    db = dy2.sum(axis=1)
    dcols = (w.reshape(w.shape[0], -1).T @ dy2).reshape(c, 9, n, h, wd)
    dxp = np.zeros((c, n, h + 2, wd + 2), np.float32)
    for t, (i, j) in enumerate(TAPS):
        dxp[:, :, i:i + h, j:j + wd] += dcols[:, t]
    return dxp[:, :, 1:-1, 1:-1], dw, db


def conv1_forward(x, w, b):
    c, n, h, wd = x.shape
    y = w.reshape(w.shape[0], c) @ x.reshape(c, -1) + b[:, None]
    return y.reshape(w.shape[0], n, h, wd), (x, w)


def conv1_backward(dy, cache):
    x, w = cache
    dy2 = dy.reshape(dy.shape[0], -1)
    x2 = x.reshape(x.shape[0], -1)
    return (w.reshape(w.shape[0], -1).T @ dy2).reshape(x.shape), (dy2 @ x2.T).reshape(w.shape), dy2.sum(axis=1)


def convT_forward(x, w, b):
    """ConvTranspose2d(kernel 2, stride 2): every input pixel becomes a 2x2 block."""
    cin, n, h, wd = x.shape
    cout = w.shape[1]
    wt = w.transpose(1, 2, 3, 0).reshape(cout * 4, cin)
    y = (wt @ x.reshape(cin, -1)).reshape(cout, 2, 2, n, h, wd)
    y = y.transpose(0, 3, 4, 1, 5, 2).reshape(cout, n, 2 * h, 2 * wd) + b[:, None, None, None]
    return y, (x, wt, w.shape)


def convT_backward(dy, cache):
    x, wt, wshape = cache
    cin, n, h, wd = x.shape
    cout = wshape[1]
    dy2 = dy.reshape(cout, n, h, 2, wd, 2).transpose(0, 3, 5, 1, 2, 4).reshape(cout * 4, -1)
    x2 = x.reshape(cin, -1)
    dwt = dy2 @ x2.T
    dw = dwt.reshape(cout, 2, 2, cin).transpose(3, 0, 1, 2)
    return (wt.T @ dy2).reshape(x.shape), dw, dy.sum(axis=(1, 2, 3))


def pool_forward(x):
    """MaxPool2d(2), floor: odd trailing rows and columns are dropped."""
    c, n, h, wd = x.shape
    blocks = (x[:, :, :h // 2 * 2, :wd // 2 * 2].reshape(c, n, h // 2, 2, wd // 2, 2)
              .transpose(0, 1, 2, 4, 3, 5).reshape(c, n, h // 2, wd // 2, 4))
    arg = blocks.argmax(axis=-1)
    return np.take_along_axis(blocks, arg[..., None], axis=-1)[..., 0], (x.shape, arg)


def pool_backward(dy, cache):
    (c, n, h, wd), arg = cache
    assert h % 2 == 0 and wd % 2 == 0, "training needs sizes divisible by 2^depth"
    blocks = np.zeros(arg.shape + (4,), np.float32)
    np.put_along_axis(blocks, arg[..., None], dy[..., None], axis=-1)
    return blocks.reshape(c, n, h // 2, wd // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(c, n, h, wd)


def center_crop(x, h, w):
    """torchvision.transforms.functional.center_crop: Python's round, halves to even."""
    top = round((x.shape[2] - h) / 2)
    left = round((x.shape[3] - w) / 2)
    return x[:, :, top:top + h, left:left + w]


# --- the network ---

def double_forward(p, name, x, caches):
    y, c1 = conv3_forward(x, p[f"{name}.first.weight"], p[f"{name}.first.bias"])
    y = np.maximum(y, 0)
    r1 = y
    y, c2 = conv3_forward(y, p[f"{name}.second.weight"], p[f"{name}.second.bias"])
    y = np.maximum(y, 0)
    caches[name] = (c1, r1, c2, y)
    return y


def double_backward(grads, name, dy, caches):
    c1, r1, c2, y = caches[name]
    dy = dy * (y > 0)
    dy, grads[f"{name}.second.weight"], grads[f"{name}.second.bias"] = conv3_backward(dy, c2)
    dy = dy * (r1 > 0)
    dx, grads[f"{name}.first.weight"], grads[f"{name}.first.bias"] = conv3_backward(dy, c1)
    return dx


def forward(p, x_nchw, keep=False):
    """Logits for an NCHW float32 batch; with keep=True also the caches for `backward`."""
    _, _, _, depth = config_of(p)
    caches = {}
    x = np.ascontiguousarray(x_nchw.transpose(1, 0, 2, 3), dtype=np.float32)
    skips = []
    for k in range(depth):
        x = double_forward(p, f"down_conv.{k}", x, caches)
        skips.append(x)
        x, caches[f"pool.{k}"] = pool_forward(x)
    x = double_forward(p, "middle_conv", x, caches)
    for j in range(depth):
        skip = skips[depth - 1 - j]
        x, caches[f"up_sample.{j}.up"] = convT_forward(x, p[f"up_sample.{j}.up.weight"], p[f"up_sample.{j}.up.bias"])
        caches[f"cat.{j}"] = x.shape[0]
        x = np.concatenate([x, center_crop(skip, x.shape[2], x.shape[3])], axis=0)
        x = double_forward(p, f"up_conv.{j}", x, caches)
    y, caches["final_conv"] = conv1_forward(x, p["final_conv.weight"], p["final_conv.bias"])
    y = y.transpose(1, 0, 2, 3)
    return (y, caches) if keep else y


def backward(p, dlogits_nchw, caches):
    """Gradients of every parameter, given d(loss)/d(logits) (NCHW). Sizes divisible by 2^depth."""
    _, _, _, depth = config_of(p)
    grads = {}
    dx = np.ascontiguousarray(dlogits_nchw.transpose(1, 0, 2, 3), dtype=np.float32)
    dx, grads["final_conv.weight"], grads["final_conv.bias"] = conv1_backward(dx, caches["final_conv"])
    dskips = [None] * depth
    for j in reversed(range(depth)):
        dx = double_backward(grads, f"up_conv.{j}", dx, caches)
        up = caches[f"cat.{j}"]
        dskips[depth - 1 - j] = dx[up:]      # no crop at sizes divisible by 2^depth
        dx, grads[f"up_sample.{j}.up.weight"], grads[f"up_sample.{j}.up.bias"] = convT_backward(dx[:up], caches[f"up_sample.{j}.up"])
    dx = double_backward(grads, "middle_conv", dx, caches)
    for k in reversed(range(depth)):
        dx = pool_backward(dx, caches[f"pool.{k}"]) + dskips[k]
        dx = double_backward(grads, f"down_conv.{k}", dx, caches)
    return grads
