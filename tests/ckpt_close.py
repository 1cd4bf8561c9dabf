#!/usr/bin/env python3
"""Compare two checkpoints of one model tensor by tensor, within a tolerance.

    tests/ckpt_close.py A.ckpt B.ckpt MODEL.c TOL [--skip ROLE]...

Both checkpoints must be of the same model (MODEL.c, the C genc emitted,
gives the tensors) at the same step with the same run state (data order
and latent stream).  For each tensor: the largest |a - b| over the
largest |a| of the tensor (its relative error, so a tensor near zero
does not count its noise as error).  Prints the worst tensors; exit 0
when every tensor but those of a skipped role (GENRT_RUNNING: batchnorm's
running statistics, which data-parallel ranks without sync_batchnorm keep
of their own rows) is within TOL, 1 otherwise."""
import array
import sys

from ckpt_tensors import read_ckpt, read_tensors


def values(ck, t):
    a = array.array("d" if ck["real"] == 8 else "f")
    r = ck["real"]
    a.frombytes(ck["state"][t["offset"] * r:(t["offset"] + t["size"]) * r])
    return a


def main():
    args = sys.argv[1:]
    skip = [args[i + 1] for i, a in enumerate(args) if a == "--skip"]
    args = [a for i, a in enumerate(args) if a != "--skip" and (i == 0 or args[i - 1] != "--skip")]
    if len(args) != 4:
        sys.exit(__doc__)
    a, b = read_ckpt(args[0]), read_ckpt(args[1])
    tensors, tol = read_tensors(args[2]), float(args[3])
    if (a["real"], a["step"], a["hash"]) != (b["real"], b["step"], b["hash"]):
        print(f"not the same model, precision and step: {a['real']}/{a['step']} against {b['real']}/{b['step']}")
        return 1
    ok = a["blob"] == b["blob"]
    if not ok:
        print("the run states (data order, latent stream) differ")
    errs = []
    for name, t in tensors.items():
        x, y = values(a, t), values(b, t)
        scale = max(max(abs(v) for v in x), 1e-30)
        err = max(abs(p - q) for p, q in zip(x, y)) / scale
        errs.append((err, name, t["role"]))
    errs.sort(reverse=True)
    worst = [e for e in errs if e[2] not in skip]
    for err, name, role in errs[:3]:
        print(f"  {name} ({role}): {err:.3g}")
    print(f"worst relative error over {len(worst)} tensors: {worst[0][0]:.3g} ({worst[0][1]}), at most {tol:g}")
    return 0 if ok and worst[0][0] <= tol else 1


if __name__ == "__main__":
    sys.exit(main())
