#!/usr/bin/python3
"""Call a genc sampler from Python through ctypes.

The sampler is plain C with a two-function API, so any language with a C FFI
can use it; no bindings, no wrapper code, just a shared library:

    cc -shared -fPIC -O2 dcgan_sampler.c -o libdcgan_sampler.so
    /usr/bin/python3 examples/python_ctypes/sample.py --lib ./libdcgan_sampler.so --seed 1

The sizes come from the #defines of NAME.h next to libNAME.so, so the script
follows the spec when it changes.  numpy is optional: without it, the script
uses ctypes arrays and plain lists.
"""
import argparse
import ctypes
import math
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_LIB = os.path.join(HERE, "..", "..", "build", "examples", "libdcgan_sampler.so")
FloatPtr = ctypes.POINTER(ctypes.c_float)


def read_header(path, name):
    """NAME_LATENT_DIM, NAME_OUT_C, ... of a sampler header, without the NAME_ prefix."""
    defs = {}
    prefix = name.upper() + "_"
    with open(path) as f:
        for m in re.finditer(r"^#define (\w+) (\S+)", f.read(), re.M):
            key, val = m.groups()
            if key.startswith(prefix):
                key = key[len(prefix):]
                defs[key] = int(val) if re.fullmatch(r"-?\d+", val) else float(val.rstrip("fF"))
    return defs


def bind(lib, name, n_classes):
    """The two entry points, with their C signatures (a label first, if conditional)."""
    label = [ctypes.c_int] if n_classes else []
    sample = getattr(lib, name + "_sample")
    sample.argtypes = [FloatPtr] + label + [FloatPtr]
    sample.restype = None
    sample_seed = getattr(lib, name + "_sample_seed")
    sample_seed.argtypes = [ctypes.c_uint64] + label + [FloatPtr]
    sample_seed.restype = None
    return sample, sample_seed


def stats(xs):
    mean = sum(xs) / len(xs)
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs))
    return f"min {min(xs):+.4f}  max {max(xs):+.4f}  mean {mean:+.4f}  std {std:.4f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", default=DEFAULT_LIB, help="libNAME.so (default: %(default)s)")
    ap.add_argument("--header", help="NAME.h (default: next to the library)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--label", type=int, default=0, help="class, for a conditional sampler")
    args = ap.parse_args()

    lib_path = os.path.abspath(args.lib)
    name = re.sub(r"^lib|\.so$", "", os.path.basename(lib_path))
    header = args.header or os.path.join(os.path.dirname(lib_path), name + ".h")
    try:
        lib = ctypes.CDLL(lib_path)
        h = read_header(header, name)
    except OSError as e:
        sys.exit(f"sample.py: {e} (build it with `make examples-build`)")
    shape = (h["OUT_C"], h["OUT_H"], h["OUT_W"])
    size, dim, n_classes = h["OUT_SIZE"], h["LATENT_DIM"], h["N_CLASSES"]
    sample, sample_seed = bind(lib, name, n_classes)
    label = [args.label] if n_classes else []

    print(f"{name}: {lib_path}")
    print(f"latent {dim}, out {shape} = {size} floats, range [{h['RANGE_LO']:g}, {h['RANGE_HI']:g}]"
          + (f", {n_classes} classes" if n_classes else ""))

    # NAME_sample_seed(seed, out): the sampler draws z itself.
    out = (ctypes.c_float * size)()
    sample_seed(args.seed, *label, out)
    xs = list(out)
    print(f"sample_seed({args.seed}): {stats(xs)}")
    again = (ctypes.c_float * size)()
    sample_seed(args.seed, *label, again)
    inside = all(h["RANGE_LO"] <= x <= h["RANGE_HI"] for x in xs)
    print(f"  same seed, same bytes: {list(again) == xs}; inside the range: {inside}")

    # NAME_sample(z, out): our own latent vector, here N(0, 1) from Python's generator.
    rng = random.Random(args.seed)
    z = (ctypes.c_float * dim)(*[rng.gauss(0, 1) for _ in range(dim)])
    sample(z, *label, out)
    print(f"sample(z ~ N(0, 1) from Python): {stats(list(out))}")

    try:
        import numpy as np
    except ImportError:
        print("numpy: not installed, skipped (ctypes arrays need nothing else)")
        return
    # numpy arrays go in as pointers to their data: the sampler writes straight into them.
    a = np.empty(shape, np.float32)
    sample_seed(args.seed, *label, a.ctypes.data_as(FloatPtr))
    print(f"numpy: sample_seed({args.seed}) into {a.dtype}{list(a.shape)}, "
          f"equal to the ctypes result: {np.array_equal(a.ravel(), np.array(xs, np.float32))}")
    n = 16
    zs = np.random.default_rng(args.seed).standard_normal((n, dim), dtype=np.float32)
    batch = np.empty((n,) + shape, np.float32)
    for i in range(n):
        sample(zs[i].ctypes.data_as(FloatPtr), *label, batch[i].ctypes.data_as(FloatPtr))
    print(f"numpy: a batch of {n}: {batch.dtype}{list(batch.shape)}, mean {batch.mean():+.4f}, "
          f"per-pixel std across samples {batch.std(axis=0).mean():.4f} (0 would mean one image)")


if __name__ == "__main__":
    main()
