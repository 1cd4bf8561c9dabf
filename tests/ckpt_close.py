#!/usr/bin/env python3
"""Compare two checkpoints of one model tensor by tensor, within a tolerance.

    tests/ckpt_close.py A.ckpt B.ckpt MODEL.c TOL [--skip ROLE]... [--abs ROLE ATOL]...

Both checkpoints must be of the same model (MODEL.c, the C genc emitted,
gives the tensors) at the same step with the same run state (data order
and latent stream).  For each tensor: the largest |a - b| over the
largest |a| of the tensor (its relative error, so a tensor near zero
does not count its noise as error).  Prints the worst tensors; exit 0
when every tensor but those of a skipped role (GENRT_RUNNING: batchnorm's
running statistics, which data-parallel ranks without sync_batchnorm keep
of their own rows) is within TOL, 1 otherwise.  A tensor of a role given
with --abs is held instead to ATOL in absolute terms, its largest |a - b|
(for weights after a float Adam step whose gradient's sign the rounding
decides: that step moves them by lr, either way)."""
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
    skip, absolute, rest = [], {}, []
    while args:
        if args[0] == "--skip" and len(args) > 1:
            skip.append(args[1])
            args = args[2:]
        elif args[0] == "--abs" and len(args) > 2:
            absolute[args[1]] = float(args[2])
            args = args[3:]
        else:
            rest.append(args.pop(0))
    args = rest
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
    rel, absl = [], []  # (relative error, name, role); (|a - b|, bound, name, role)
    for name, t in tensors.items():
        if t["role"] in skip:
            continue
        x, y = values(a, t), values(b, t)
        diff = max(abs(p - q) for p, q in zip(x, y))
        if t["role"] in absolute:
            absl.append((diff, absolute[t["role"]], name, t["role"]))
        else:
            rel.append((diff / max(max(abs(v) for v in x), 1e-30), name, t["role"]))
    summary = []  # the last line: what mpi.sh reports
    rel.sort(reverse=True)
    for err, name, role in rel[:3]:
        print(f"  {name} ({role}): {err:.3g}")
    if rel:
        summary.append(f"worst relative error over {len(rel)} tensors: {rel[0][0]:.3g} ({rel[0][1]}), at most {tol:g}")
        ok = ok and rel[0][0] <= tol
    if absl:
        absl.sort(key=lambda e: e[0] / e[1], reverse=True)
        diff, bound, name, role = absl[0]
        summary.append(f"worst absolute difference over {len(absl)} tensors: {diff:.3g} ({name}), at most {bound:g}")
        over = [e for e in absl if e[0] > e[1]]
        for diff, bound, name, role in over:
            print(f"  over its bound: {name} ({role}): {diff:.3g}, at most {bound:g}")
        ok = ok and not over
    print("; ".join(summary))
    return 0 if ok else 1

if __name__ == "__main__":
    sys.exit(main())
