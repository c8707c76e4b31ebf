#!/usr/bin/env python3
"""Train a small U-Net to find the discs among discs and boxes, in numpy (no framework).

    python train.py [--steps 1500] [--out .]

Pictures are grey, with uneven lighting and noise; each holds discs and boxes, brighter or
darker than the background, that may overlap. The target is the mask of the discs only, so
thresholding the brightness does not solve it: the network has to tell round from square.

Writes, in --out:
  shapes.safetensors   the trained state_dict (PyTorch's keys; in 1, out 1, base 8, depth 3)
  sample.pgm           a 128x128 picture the network never saw in training
  sample_truth.pgm     its true disc mask (255 = disc)
and prints the intersection over union on held-out pictures. The network is the classic
U-Net of unet_numpy.py, trained with binary cross-entropy on its logits and Adam; about
3.5 minutes on one core (OPENBLAS_NUM_THREADS=1).
"""

import argparse
import os
import time

import numpy as np
from safetensors.numpy import save_file

import unet_numpy as unet

CONFIG = dict(in_channels=1, out_channels=1, base=8, depth=3)


def make_picture(rng, size, shapes=None, alternate=False):
    """One picture (size x size floats in [0, 1]) and its disc mask (bool). With alternate,
    discs and boxes take turns (the sample), else each shape is a disc or a box at random."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    # Uneven lighting: a level, a slope in a random direction and a broad blob.
    angle = rng.uniform(0, 2 * np.pi)
    light = (rng.uniform(0.3, 0.7)
             + rng.uniform(0, 0.25) * ((np.cos(angle) * xx + np.sin(angle) * yy) / size - 0.5)
             + rng.uniform(-0.15, 0.15) * np.exp(-((xx - rng.uniform(0, size)) ** 2 + (yy - rng.uniform(0, size)) ** 2)
                                                 / (2 * (size * rng.uniform(0.2, 0.5)) ** 2)))
    image = light.copy()
    mask = np.zeros((size, size), bool)
    count = shapes if shapes is not None else rng.integers(2, 7)
    for i in range(count):
        contrast = rng.uniform(0.15, 0.4) * rng.choice([-1, 1])
        cy, cx = rng.uniform(0, size, 2)
        if (i % 2 == 0) if alternate else (rng.random() < 0.5):
            r = rng.uniform(4, 11)
            inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            is_disc = True
        else:
            hh, hw = rng.uniform(3.5, 10, 2)
            inside = (np.abs(yy - cy) <= hh) & (np.abs(xx - cx) <= hw)
            is_disc = False
        image[inside] = light[inside] + contrast
        mask[inside] = is_disc          # a later shape covers an earlier one
    image += rng.normal(0, rng.uniform(0.02, 0.08), image.shape)
    return np.clip(image, 0, 1).astype(np.float32), mask


def batch(rng, n, size):
    pictures, masks = zip(*(make_picture(rng, size) for _ in range(n)))
    return np.stack(pictures)[:, None], np.stack(masks)[:, None].astype(np.float32)


def bce_with_logits(logits, target):
    """Mean binary cross-entropy and its gradient with respect to the logits."""
    loss = np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))
    grad = (1 / (1 + np.exp(-logits)) - target) / logits.size
    return float(loss.mean()), grad.astype(np.float32)


def iou(predicted, truth):
    union = np.logical_or(predicted, truth).sum()
    return float(np.logical_and(predicted, truth).sum() / union) if union else 1.0


def write_pgm(path, pixels):
    with open(path, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (pixels.shape[1], pixels.shape[0]))
        f.write(pixels.astype(np.uint8).tobytes())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=64, help="training picture size (divisible by 8)")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    params = unet.init_params(rng=rng, **CONFIG)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    beta1, beta2 = 0.9, 0.999
    start = time.time()
    for step in range(1, args.steps + 1):
        x, t = batch(rng, args.batch, args.size)
        logits, caches = unet.forward(params, x, keep=True)
        loss, dlogits = bce_with_logits(logits, t)
        grads = unet.backward(params, dlogits, caches)
        lr = args.lr * 0.5 * (1 + np.cos(np.pi * step / args.steps))     # cosine decay
        for k in params:
            m[k] = beta1 * m[k] + (1 - beta1) * grads[k]
            v[k] = beta2 * v[k] + (1 - beta2) * grads[k] ** 2
            mhat = m[k] / (1 - beta1 ** step)
            vhat = v[k] / (1 - beta2 ** step)
            params[k] = (params[k] - lr * mhat / (np.sqrt(vhat) + 1e-8)).astype(np.float32)
        if step % 50 == 0 or step == 1:
            print(f"step {step:4d}  loss {loss:.4f}  {time.time() - start:5.0f} s", flush=True)

    # Held out: pictures from another seed, at the sample's size (the network is convolutional).
    test_rng = np.random.default_rng(12345)
    scores = []
    for _ in range(20):
        picture, truth = make_picture(test_rng, 128, shapes=test_rng.integers(6, 13))
        scores.append(iou(unet.forward(params, picture[None, None])[0, 0] > 0, truth))
    print(f"held-out IoU over 20 pictures of 128x128: mean {np.mean(scores):.3f}, min {np.min(scores):.3f}")

    sample, truth = make_picture(np.random.default_rng(2024), 128, shapes=10, alternate=True)
    sample_pixels = np.round(sample * 255)
    predicted = unet.forward(params, (sample_pixels / 255).astype(np.float32)[None, None])[0, 0] > 0
    print(f"sample IoU (numpy forward): {iou(predicted, truth):.3f}")

    os.makedirs(args.out, exist_ok=True)
    weights = os.path.join(args.out, "shapes.safetensors")
    save_file(params, weights, metadata={k: str(val) for k, val in CONFIG.items()})
    os.chmod(weights, 0o644)
    write_pgm(os.path.join(args.out, "sample.pgm"), sample_pixels)
    write_pgm(os.path.join(args.out, "sample_truth.pgm"), truth * 255)
    print(f"wrote shapes.safetensors, sample.pgm, sample_truth.pgm in {args.out}")


if __name__ == "__main__":
    main()
