#!/usr/bin/env python3
"""The compiler's layering, checked from its sources and objects.

    tests/check_layering.py [--root DIR] [--objs DIR]
    tests/check_layering.py --selftest

Fails (exit 1, one line per violation) when
  - a file of the IR, autodiff, the passes, lowering or an objective (every
    compiler/ file but main.c and compiler/emit/) includes an emitter
    header, or its object calls into the emitter: only the emitter knows C;
  - #include "..." among compiler/ files has a cycle;
  - the objects call each other in a cycle: `nm` gives each object's
    defined and undefined symbols, so a file depends on the files that
    define what it uses (function pointers in a table count: the table's
    object references the functions).
--selftest plants a violation of each kind in a copy and checks that each
is caught.  DIR is the tree (default: the repository), objects are
DIR/build/*.o as the Makefile names them (compiler/X/Y.c -> build/X_Y.o,
compiler/lexer.l -> build/lexer.o, compiler/main.c -> build/main.o)."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources(root):
    """compiler/ files, relative to root."""
    out = []
    for d, _, files in os.walk(os.path.join(root, "compiler")):
        for f in files:
            if f.endswith((".c", ".h", ".def", ".l", ".y")):
                out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def is_emitter(path):
    return path.startswith("compiler/emit/")


def must_not_know_c(path):
    return not is_emitter(path) and path != "compiler/main.c"


def resolve(root, src, name):
    for base in (os.path.dirname(src), "compiler", "runtime", "build"):
        p = os.path.normpath(os.path.join(base, name))
        if os.path.exists(os.path.join(root, p)):
            return p
    return None


def include_graph(root):
    graph = {}
    for s in sources(root):
        text = open(os.path.join(root, s), encoding="utf-8", errors="replace").read()
        graph[s] = [r for r in (resolve(root, s, n) for n in INCLUDE.findall(text)) if r]
    return graph


def find_cycle(graph):
    """A cycle of graph as a list of nodes, or None (iterative DFS)."""
    color, parent = {}, {}
    for start in sorted(graph):
        if color.get(start):
            continue
        stack = [(start, iter(sorted(graph.get(start, ()))))]
        color[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                color[node] = 2
                stack.pop()
                continue
            if color.get(nxt) == 1:
                cycle, n = [node], node
                while n != nxt:
                    n = parent[n]
                    cycle.append(n)
                return cycle[::-1] + [nxt]
            if not color.get(nxt):
                color[nxt], parent[nxt] = 1, node
                stack.append((nxt, iter(sorted(graph.get(nxt, ())))))
    return None


def object_of(src):
    rel = src[len("compiler/"):]
    stem = os.path.splitext(rel)[0].replace("/", "_")
    return f"build/{stem}.o"


def symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDRBCGSV":
            defined.add(parts[2])
    return defined, used


def call_graph(root, objs):
    """file -> files whose symbols it uses, for every compiler/ source with an object."""
    srcs = [s for s in sources(root) if s.endswith((".c", ".l", ".y"))]
    table = {}
    for s in srcs:
        o = os.path.join(objs, os.path.basename(object_of(s)))
        if not os.path.exists(o):
            sys.exit(f"check_layering: {o} is missing (build the compiler first)")
        table[s] = symbols(o)
    owner = {}
    for s, (defined, _) in table.items():
        for sym in defined:
            owner[sym] = s
    return {s: sorted({owner[u] for u in used if u in owner and owner[u] != s}) for s, (_, used) in table.items()}


def check(root, objs):
    problems = []
    inc = include_graph(root)
    for s, deps in sorted(inc.items()):
        if must_not_know_c(s):
            for d in deps:
                if is_emitter(d):
                    problems.append(f"{s} includes the emitter's {d}: only the emitter knows C")
    cycle = find_cycle(inc)
    if cycle:
        problems.append("include cycle: " + " -> ".join(cycle))
    calls = call_graph(root, objs)
    for s, deps in sorted(calls.items()):
        if must_not_know_c(s):
            for d in deps:
                if is_emitter(d):
                    problems.append(f"{s} calls into the emitter's {d}: only the emitter knows C")
    cycle = find_cycle(calls)
    if cycle:
        problems.append("call cycle: " + " -> ".join(cycle))
    return problems


def selftest(root, objs):
    """Plant each kind of violation in a copy; each must be reported."""
    ok = True
    base = check(root, objs)
    if base:
        print("check_layering --selftest: the tree itself fails:\n  " + "\n  ".join(base))
        return False
    plants = {
        "include of the emitter": ("compiler/passes/dce.c", '#include "../genc.h"', '#include "../emit/emit.h"'),
        "include cycle": ("compiler/genc.h", '#include <stdio.h>', '#include <stdio.h>\n#include "lower.h"'),
        "call cycle": ("compiler/ops.c", "void op_vjp(", "void op_vjp_(void) { lower_model(0, 0); }\nvoid op_vjp("),
        "call into the emitter": ("compiler/autodiff.c", "void autodiff(",
                                  "const char *emit_real(double v);\nconst char *autodiff_(void) { return emit_real(1); }\n"
                                  "void autodiff("),
    }
    want = {"include of the emitter": "includes the emitter", "include cycle": "include cycle",
            "call cycle": "call cycle", "call into the emitter": "calls into the emitter"}
    for what, (path, anchor, planted) in plants.items():
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(os.path.join(root, "compiler"), os.path.join(tmp, "compiler"))
            shutil.copytree(os.path.join(root, "runtime"), os.path.join(tmp, "runtime"))
            os.makedirs(os.path.join(tmp, "build"))
            for o in os.listdir(objs):
                if o.endswith((".o", ".h")):
                    os.symlink(os.path.abspath(os.path.join(objs, o)), os.path.join(tmp, "build", o))
            p = os.path.join(tmp, path)
            text = open(p).read()
            if anchor not in text:
                print(f"check_layering --selftest: no '{anchor}' in {path} to plant a {what} at")
                ok = False
                continue
            open(p, "w").write(text.replace(anchor, planted, 1))
            if path.endswith(".c"):
                o = os.path.join(tmp, "build", os.path.basename(object_of(path)))
                os.unlink(o)
                cc = [os.environ.get("CC", "cc"), "-std=c11", "-D_GNU_SOURCE", "-Icompiler", "-Iruntime",
                      "-I" + os.path.abspath(objs), "-c", path, "-o", o]
                subprocess.run(cc, cwd=tmp, check=True)
            found = [m for m in check(tmp, os.path.join(tmp, "build")) if want[what] in m]
            print(f"planted {what}: {'caught: ' + found[0] if found else 'NOT CAUGHT'}")
            ok &= bool(found)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--objs")
    ap.add_argument("--selftest", action="store_true")
    a = ap.parse_args()
    root = os.path.abspath(a.root)
    objs = os.path.abspath(a.objs or os.path.join(root, "build"))
    if a.selftest:
        return 0 if selftest(root, objs) else 1
    problems = check(root, objs)
    for p in problems:
        print(f"check-layering: {p}")
    if not problems:
        print("check-layering: no emitter header or call outside the emitter, no include or call cycle")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
