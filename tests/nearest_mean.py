#!/usr/bin/env python3
"""nearest_mean.py NPY DATA_DIR CLASS_A CLASS_B: of the images in NPY (N x 1 x 28 x 28
float32 in [-1, 1], as ./X translate writes them), the share nearer (in L2) to
the mean Fashion-MNIST test image of CLASS_B than to that of CLASS_A, and the
same share for the real test images of CLASS_A, for comparison.

A crude but honest check that a translator's outputs moved to the other
domain: for sneakers (7) to ankle boots (9), a G(a) that still looks like a
sneaker is nearer the sneaker mean.  Python's standard library only."""
import gzip, struct, sys

def idx(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = struct.unpack(">" + "I" * (magic & 255), data[4:4 + 4 * (magic & 255)])
    return dims, data[4 + 4 * (magic & 255):]

def load(directory, name):
    for suffix in (".gz", ""):
        try:
            return idx(f"{directory}/{name}{suffix}")
        except FileNotFoundError:
            pass
    sys.exit(f"nearest_mean: no {name} in {directory}")

def main():
    npy, directory, ca, cb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    (n, h, w), pixels = load(directory, "t10k-images-idx3-ubyte")
    _, labels = load(directory, "t10k-labels-idx1-ubyte")
    size = h * w
    means = {}
    for c in (ca, cb):
        acc, k = [0.0] * size, 0
        for i in range(n):
            if labels[i] == c:
                row = pixels[i * size:(i + 1) * size]
                for j in range(size):
                    acc[j] += row[j]
                k += 1
        means[c] = [-1 + 2 * v / k / 255 for v in acc]
    with open(npy, "rb") as f:
        data = f.read()
    hlen = data[8] + 256 * data[9]
    values = struct.unpack(f"<{(len(data) - 10 - hlen) // 4}f", data[10 + hlen:])
    count = len(values) // size
    nearer_b = 0
    for i in range(count):
        x = values[i * size:(i + 1) * size]
        da = sum((a - b) ** 2 for a, b in zip(x, means[ca]))
        db = sum((a - b) ** 2 for a, b in zip(x, means[cb]))
        nearer_b += db < da
    base = total = 0  # the same measure on the real test images of CLASS_A
    for i in range(n):
        if labels[i] == ca:
            x = [-1 + 2 * v / 255 for v in pixels[i * size:(i + 1) * size]]
            da = sum((a - b) ** 2 for a, b in zip(x, means[ca]))
            db = sum((a - b) ** 2 for a, b in zip(x, means[cb]))
            base += db < da
            total += 1
    print(f"{nearer_b} of {count} ({100 * nearer_b / count:.0f}%) nearer the mean of class {cb} than of class {ca} "
          f"(real class {ca} images: {100 * base / total:.0f}%)")

main()
