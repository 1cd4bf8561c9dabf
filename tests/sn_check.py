#!/usr/bin/env python3
"""Check spectral_norm's power-iteration vectors in a checkpoint.

    tests/sn_check.py CKPT TRAINER.c TOLERANCE

For every layer with spectral_norm (tensors NAME.weight, NAME.weight_u,
NAME.weight_v in the trainer's table): u and v have length 1, and
sigma = u^T W v, what the layer divides its weight by, is within TOLERANCE
(relative) of W's largest singular value as 200 more steps of power
iteration on W^T W, in double and from the checkpoint's own vector, find it
(from below: |W x| <= sigma_max for every unit x, and it grows to it, so a
stored sigma that is not converged shows as a gap).  W is the
weight viewed as [len(u), len(v)] rows by columns, or, for a deconv (whose
first dimension is not len(u)), [len(v), len(u)].  Exit 0 when all hold."""
import math
import operator
import struct
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from ckpt_tensors import read_ckpt, read_tensors  # noqa: E402


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    ck, table, tol = read_ckpt(sys.argv[1]), read_tensors(sys.argv[2]), float(sys.argv[3])
    n = ck["real"]
    state = struct.unpack(f"<{len(ck['state']) // n}{'f' if n == 4 else 'd'}", ck["state"])

    def get(name):
        t = table[name]
        return list(state[t["offset"]:t["offset"] + t["size"]])

    layers = [name[:-len(".weight_u")] for name in table if name.endswith(".weight_u")]
    ok = bool(layers)
    for layer in layers:
        w, u, v = get(layer + ".weight"), get(layer + ".weight_u"), get(layer + ".weight_v")
        first = int(table[layer + ".weight"]["dims"].split(",")[0])
        u_rows = first == len(u)
        rows, cols = (len(u), len(v)) if u_rows else (len(v), len(u))
        r, c = (u, v) if u_rows else (v, u)
        mat = [w[i * cols:(i + 1) * cols] for i in range(rows)]
        tmat = list(zip(*mat))
        sigma = sum(map(operator.mul, r, (sum(map(operator.mul, row, c)) for row in mat)))
        x = list(c)
        for _ in range(200):
            y = [sum(map(operator.mul, row, x)) for row in mat]
            x = [sum(map(operator.mul, col, y)) for col in tmat]
            s = math.sqrt(sum(a * a for a in x))
            x = [a / s for a in x]
        true = math.sqrt(sum(sum(map(operator.mul, row, x)) ** 2 for row in mat))
        nu, nv = math.sqrt(sum(a * a for a in u)), math.sqrt(sum(a * a for a in v))
        rel = abs(sigma - true) / true
        good = rel <= tol and abs(nu - 1) < 1e-5 and abs(nv - 1) < 1e-5
        ok = ok and good
        print(f"{layer}: [{rows}, {cols}] sigma(u, v) {sigma:.6g}, largest singular value {true:.6g} "
              f"(relative {rel:.2g}), |u| {nu:.6f}, |v| {nv:.6f}{'' if good else '  FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
