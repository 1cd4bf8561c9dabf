#!/usr/bin/env python3
"""Check the moving averages (`ema D`) of two consecutive checkpoints.

    tests/ema_check.py STEP1.ckpt STEP2.ckpt TRAINER.c D

For every GENRT_EMA tensor of the trainer's table, the second checkpoint's
average must be D * (the first's) + (1 - D) * (the second's parameter), as
the emitted float code computes it, and the two must differ from the raw
parameter (the average lags it).  Exit 0 when they do, 1 otherwise."""
import re
import struct
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from ckpt_tensors import read_ckpt  # noqa: E402

ROW = re.compile(r'^\s*\{"((?:[^"\\]|\\.)*)", (GENRT_\w+), \d+, GENRT_\w+, \d+, \d+, \{[\d, ]*\}, (\d+), (\d+), (-?\d+)\},$')


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    c1, c2 = read_ckpt(sys.argv[1]), read_ckpt(sys.argv[2])
    text = open(sys.argv[3], encoding="utf-8").read()
    table = text[text.index("static const struct genrt_tensor tensors["):]
    rows = [m.groups() for m in map(ROW.match, table[:table.index("};")].splitlines()) if m]
    d = f32(float(sys.argv[4]))
    if c1["real"] != 4 or c2["step"] != c1["step"] + 1:
        sys.exit("want float checkpoints of consecutive steps")
    n = c1["real"]
    s1 = struct.unpack(f"<{len(c1['state']) // n}f", c1["state"])
    s2 = struct.unpack(f"<{len(c2['state']) // n}f", c2["state"])
    checked, worst, lag = 0, 0.0, 0.0
    for name, role, offset, size, source in rows:
        if role != "GENRT_EMA":
            continue
        off, size, src = int(offset), int(size), int(rows[int(source)][2])
        for i in range(size):
            want = f32(f32(d * s1[off + i]) + f32(f32(1 - d) * s2[src + i]))
            got = s2[off + i]
            worst = max(worst, abs(got - want) / max(abs(want), 1e-30))
            lag = max(lag, abs(got - s2[src + i]))
        checked += size
    print(f"ema_check: {checked} averaged values, worst relative error {worst:.3g}, largest lag behind the "
          f"parameter {lag:.3g}")
    ok = checked > 0 and worst <= 1e-6 and lag > 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
