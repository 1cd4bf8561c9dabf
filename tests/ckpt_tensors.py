#!/usr/bin/env python3
"""Compare two checkpoints tensor by tensor, by name.

    tests/ckpt_tensors.py OLD.ckpt OLD.c NEW.ckpt NEW.c

Each checkpoint is read as runtime/genrt_ckpt.c writes it (magic, version,
shape hash, real size, step, n_state, the state, the run-state blob, a
CRC32), and its tensors are found through the `tensors[]` table of the C
file genc emitted for it.  Every tensor of NEW must be in OLD with the
same shape and the same bytes; tensors only OLD has are listed (a layout
change that drops them).  The step and the run-state blob must match too.
Exit 0 when they all do, 1 otherwise."""
import re
import struct
import sys
import zlib

HEADER = struct.Struct("<8sIQIQQ")  # magic, version, hash, real_size, step, n_state


def read_ckpt(path):
    buf = open(path, "rb").read()
    magic, version, shape_hash, real_size, step, n_state = HEADER.unpack_from(buf)
    if magic != b"GENCCKPT":
        sys.exit(f"{path}: not a genc checkpoint")
    if zlib.crc32(buf[:-4]) != struct.unpack_from("<I", buf, len(buf) - 4)[0]:
        sys.exit(f"{path}: CRC mismatch")
    start = HEADER.size
    state = buf[start:start + n_state * real_size]
    (blob_size,) = struct.unpack_from("<Q", buf, start + len(state))
    blob = buf[start + len(state) + 8:start + len(state) + 8 + blob_size]
    return {"version": version, "hash": shape_hash, "real": real_size, "step": step, "state": state, "blob": blob}


TENSOR = re.compile(r'^\s*\{"((?:[^"\\]|\\.)*)", (GENRT_\w+), (\d+), (GENRT_\w+), (\d+), (\d+), \{([\d, ]*)\}, (\d+), (\d+), -?\d+\},$')


def read_tensors(c_path):
    text = open(c_path, encoding="utf-8", errors="replace").read()
    table = text[text.index("static const struct genrt_tensor tensors["):]
    table = table[:table.index("};")]
    tensors = {}
    for line in table.splitlines():
        m = TENSOR.match(line)
        if m:
            name, role, _, _, _, _, dims, offset, size = m.groups()
            tensors[name] = {"role": role, "dims": dims, "offset": int(offset), "size": int(size)}
    return tensors


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    old, new = read_ckpt(sys.argv[1]), read_ckpt(sys.argv[3])
    told, tnew = read_tensors(sys.argv[2]), read_tensors(sys.argv[4])
    ok = True
    if old["real"] != new["real"] or old["step"] != new["step"]:
        print(f"real size or step differ: {old['real']}/{old['step']} against {new['real']}/{new['step']}")
        ok = False
    r = new["real"]
    same = 0
    for name, t in tnew.items():
        o = told.get(name)
        if o is None:
            print(f"{name}: only in the new checkpoint")
            ok = False
            continue
        if o["dims"] != t["dims"]:
            print(f"{name}: shape [{o['dims']}] against [{t['dims']}]")
            ok = False
            continue
        a = old["state"][o["offset"] * r:(o["offset"] + o["size"]) * r]
        b = new["state"][t["offset"] * r:(t["offset"] + t["size"]) * r]
        if a != b:
            diff = sum(x != y for x, y in zip(a, b))
            print(f"{name} ({t['role']}): {diff} of {len(a)} bytes differ")
            ok = False
        else:
            same += 1
    gone = [n for n in told if n not in tnew]
    print(f"{same} of {len(tnew)} tensors bit-identical ({sum(t['size'] for t in tnew.values())} scalars)")
    if gone:
        print(f"{len(gone)} tensors only in the old checkpoint: {', '.join(gone)}")
        nonzero = [n for n in gone
                   if any(old["state"][told[n]["offset"] * r:(told[n]["offset"] + told[n]["size"]) * r])]
        if nonzero:
            print(f"  of which not all zero: {', '.join(nonzero)}")
    if old["blob"] != new["blob"]:
        print(f"the run state differs ({len(old['blob'])} against {len(new['blob'])} bytes)")
        ok = False
    else:
        print(f"run state identical ({len(new['blob'])} bytes)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
