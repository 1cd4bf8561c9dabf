#!/usr/bin/python3
"""Writes the folder of images that bench/run.sh trains dcgan_images on.

    /usr/bin/python3 bench/images.py DIR [-n N] [--size S] [--data FMNIST_DIR]

DIR gets N (default 4096) RGB PNGs of S x S pixels (default 64), named
00000.png, 00001.png, ...: the first N Fashion-MNIST training images,
scaled up bilinearly from 28 x 28 and tinted, the item in its class's
colour on a dark background of another.  The same arguments write the same
pixels.  The folder is built beside DIR and renamed into place when done, so
a folder at DIR is always complete; DIR/../images.stamp (outside the folder:
genc's reader takes every image in it) records the arguments, and a second
call with the same ones does nothing.
"""

import argparse
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_gan import DEFAULT_DATA, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, read_idx  # noqa: E402

STAMP_VERSION = 1  # raise when the pictures change

# one foreground and one background colour per class, RGB
PALETTE = np.array([
    [230, 80, 60], [240, 170, 40], [220, 220, 70], [90, 200, 80], [60, 190, 200],
    [70, 120, 235], [150, 90, 230], [230, 90, 190], [200, 200, 200], [160, 120, 80],
], dtype=np.float64)


def main():
    ap = argparse.ArgumentParser(description="write the image folder of genc's dcgan_images benchmark")
    ap.add_argument("dir")
    ap.add_argument("-n", type=int, default=4096, help="how many images (default 4096)")
    ap.add_argument("--size", type=int, default=64, help="width and height (default 64)")
    ap.add_argument("--data", default=DEFAULT_DATA, help=f"Fashion-MNIST (default {DEFAULT_DATA})")
    args = ap.parse_args()
    try:
        from PIL import Image
    except ImportError:
        sys.exit("images.py: python3 cannot import PIL; apt-get install python3-pil")

    out = os.path.normpath(args.dir)
    stamp_path = os.path.join(os.path.dirname(out) or ".", os.path.basename(out) + ".stamp")
    stamp = f"version {STAMP_VERSION} n {args.n} size {args.size} data {os.path.abspath(args.data)}\n"
    if os.path.isdir(out) and os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        return

    images = read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz"), IDX_IMAGES_MAGIC, 3)
    labels = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz"), IDX_LABELS_MAGIC, 1)
    if not 1 <= args.n <= len(images):
        sys.exit(f"images.py: -n must be from 1 to {len(images)}, got {args.n}")
    if args.size < 1:
        sys.exit(f"images.py: --size must be positive, got {args.size}")

    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for i in range(args.n):
        gray = Image.fromarray(images[i]).resize((args.size, args.size), Image.BILINEAR)
        a = np.asarray(gray, dtype=np.float64)[..., None] / 255.0
        fg = PALETTE[labels[i]]
        bg = 0.25 * PALETTE[(labels[i] + 5) % len(PALETTE)]
        rgb = np.rint(a * fg + (1 - a) * bg).clip(0, 255).astype(np.uint8)
        Image.fromarray(rgb, "RGB").save(os.path.join(tmp, f"{i:05d}.png"))
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    with open(stamp_path, "w") as f:
        f.write(stamp)
    print(f"images.py: wrote {args.n} {args.size}x{args.size} RGB PNGs to {out}")


if __name__ == "__main__":
    main()
