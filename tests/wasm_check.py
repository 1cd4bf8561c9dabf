#!/usr/bin/env python3
"""genc --sampler --target wasm, checked in a browser (part of make test).

    tests/wasm_check.py [--genc build/genc] [--trainers .]

Trains dcgan, gan_ring, cgan and cyclegan for a few steps in a temporary
directory, builds each one's wasm sampler (NAME.wasm, NAME.js, NAME.html)
and the native sampler of the same checkpoint (gcc, tests/wasm_native.c;
its weights in NAME.bin, which compiles far faster than baked in),
serves the pages on 127.0.0.1 (Python's http.server on a free port) and
loads each in headless Chromium, which prints the page's DOM once it has
drawn.  The page writes what it drew into <pre id=genc-values>: the raw
outputs of its first sample and the pixels the canvas shows for it (for a
CycleGAN, its translation A -> B of seeded noise and B -> A of a PNG it
fetches and reads as an upload).  They must match the native
sampler's outputs for the same seed (or input) within 1e-5 of the output's
scale, and the pixels the outputs mapped to 0..255 within 1.  Also: genc's
errors for --target (no clang, a failing clang, bad flags) leave existing
outputs alone.  Where Chromium cannot start, the check fails and says so."""
import argparse
import functools
import html
import http.server
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

TOL = 1e-5


def fail(msg):
    print("wasm_check: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        fail("%s exited %d:\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r.stdout


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    fail("headless Chromium is needed and none was found (Debian: apt-get install chromium; make deps does)")


def dump_dom(browser, profile, url, budget=30000):
    """The DOM of url once its scripts are done, as headless Chromium prints it."""
    cmd = [browser, "--headless", "--disable-gpu", "--no-first-run", "--user-data-dir=" + profile,
           "--virtual-time-budget=%d" % budget, "--dump-dom", url]
    if os.geteuid() == 0:
        cmd.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        fail("Chromium did not finish loading %s in 90 s" % url)
    if r.returncode != 0 or "<html" not in r.stdout:
        fail("Chromium could not start or load %s (exit %d):\n%s" % (url, r.returncode, r.stderr[-2000:]))
    return r


def page_values(browser, profile, url):
    """The JSON the page wrote into #genc-values, after it drew."""
    # Virtual time can run out while the module is still being fetched and
    # compiled on a loaded machine: a page still loading gets a longer budget.
    for budget in (30000, 90000, 240000):
        r = dump_dom(browser, profile, url, budget)
        state = re.search(r'<body[^>]*data-state="([a-z]*)"', r.stdout)
        if not state or state.group(1) != "loading":
            break
    status = re.search(r'<p id="status"[^>]*>(.*?)</p>', r.stdout, re.S)
    status = html.unescape(status.group(1)) if status else "(no status)"
    if not state or state.group(1) != "ready":
        fail("%s did not draw (state %s): %s" % (url, state.group(1) if state else "?", status))
    pre = re.search(r'<pre id="genc-values"[^>]*>(.*?)</pre>', r.stdout, re.S)
    if not pre:
        fail("%s has no #genc-values" % url)
    return json.loads(html.unescape(pre.group(1)))


def compare(what, got, want):
    """Worst difference relative to the output's scale; fails beyond TOL."""
    if len(got) != len(want):
        fail("%s: the page has %d values, the native sampler %d" % (what, len(got), len(want)))
    scale = max(max(abs(v) for v in want), 1e-30)
    worst = max(abs(a - b) for a, b in zip(got, want)) / scale
    if worst > TOL:
        fail("%s: the page's outputs differ from the native sampler's by %.3g of the scale (> %g)" % (what, worst, TOL))
    return worst


def compare_pixels(what, pixels, want, shape, lo, hi):
    """The canvas's pixels against the native outputs mapped to 0..255."""
    n, chans = shape["h"] * shape["w"], 3 if shape["c"] == 3 else 1
    expect = [round(min(255, max(0, (want[ch * n + i] - lo) * 255 / (hi - lo)))) for ch in range(chans) for i in range(n)]
    if len(pixels) != len(expect):
        fail("%s: the page read back %d pixels, expected %d" % (what, len(pixels), len(expect)))
    off = max(abs(a - b) for a, b in zip(pixels, expect))
    if off > 1:
        fail("%s: the canvas shows pixels %d levels away from the native sampler's" % (what, off))
    if len(set(pixels)) < 2:
        fail("%s: the canvas shows one flat colour" % what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--genc", default=os.environ.get("GENC_BIN", "build/genc"))
    ap.add_argument("--trainers", default=".")
    args = ap.parse_args()
    t_start = time.time()
    browser = chromium()
    tmp = tempfile.mkdtemp(prefix="genc-wasm-check.")
    try:
        # first of all, that Chromium starts and runs a script
        if "ran" not in dump_dom(browser, os.path.join(tmp, "profile"),
                                 "data:text/html,<p id=x></p><script>x.textContent='ran'</script>").stdout:
            fail("headless Chromium starts but runs no script")
        check(args, browser, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("wasm_check: ok (%.0f s)" % (time.time() - t_start))


def check_errors(genc, tmp, ckpt):
    """--target's errors: exit 1, a message, and no output touched."""
    out = os.path.join(tmp, "err", "keep")
    os.makedirs(os.path.dirname(out))
    for suffix in (".wasm", ".js", ".html"):
        with open(out + suffix, "w") as f:
            f.write("old\n")
    base = [genc, "specs/gan_ring.gm", "--sampler", "--weights", ckpt]
    cases = [
        (base + ["--target", "wasm", "-o", out], {"PATH": "/nonexistent"}, "needs clang"),
        (base + ["--target", "wasm", "-o", out], {"GENC_CLANG": "/bin/false"}, "failed (exit status 1)"),
        (base + ["--target", "wasm", "-o", out], {"GENC_CLANG": os.path.join(tmp, "no-such-clang")}, "cannot run"),
        (base + ["--target", "js", "-o", out], {}, "unknown target 'js'"),
        (base + ["--target", "wasm", "--weights-file", "-o", out], {}, "--weights-file goes with --target c"),
        (["specs/gan_ring.gm", "--target", "wasm"], {}, "--target goes with --sampler"),
        (base + ["--target", "wasm", "-o", os.path.join(tmp, "err", "1x")], {}, "not a C identifier"),
    ]
    for cmd, env, want in cases:
        cmd = cmd if cmd[0] == genc else [genc] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **env))
        if r.returncode != 1 or want not in r.stderr:
            fail("%s (env %s): expected exit 1 and '%s', got %d: %s" % (" ".join(cmd), env, want, r.returncode, r.stderr))
    for suffix in (".wasm", ".js", ".html"):
        with open(out + suffix) as f:
            if f.read() != "old\n":
                fail("a failed genc --target wasm changed %s%s" % (out, suffix))


def check(args, browser, tmp):
    genc, www, native = args.genc, os.path.join(tmp, "www"), os.path.join(tmp, "native")
    os.makedirs(www)
    os.makedirs(native)
    # model, training steps, URL query of its page
    models = [("dcgan", 2, "seed=3"), ("gan_ring", 20, "seed=2"), ("cgan", 1, "seed=2&label=7"),
              ("cyclegan", 1, "noise=5&b=upload.png")]
    for model, steps, _ in models:
        run([os.path.join(args.trainers, model), "train", "--steps", str(steps), "--quiet", "--threads", "1",
             "--out", os.path.join(tmp, model + "_run")])
    ckpt = lambda model: os.path.join(tmp, model + "_run", "checkpoint.ckpt")
    t0 = time.time()
    check_errors(genc, tmp, ckpt("gan_ring"))

    # the wasm and native samplers of each checkpoint, two builds at a time
    def build(model):
        name = model + "_w"
        run([genc, "specs/%s.gm" % model, "--sampler", "--weights", ckpt(model), "--target", "wasm",
             "-o", os.path.join(www, name)])
        c = os.path.join(native, name + ".c")
        run([genc, "specs/%s.gm" % model, "--sampler", "--weights", ckpt(model), "--weights-file", "-o", c])
        run(["gcc", "-std=c99", "-O2", "-I" + native, "-DNAME=" + name, "-DUNAME=" + name.upper(),
             "-DSAMPLER_H=\"%s.h\"" % name] + (["-DTRANSLATORS"] if model == "cyclegan" else []) +
            ["tests/wasm_native.c", c, "-lm", "-o", os.path.join(native, name)])

    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(build, [m for m, _, _ in models]))
    for model, _, _ in models:
        for suffix in (".wasm", ".js", ".html"):
            if not os.path.isfile(os.path.join(www, model + "_w" + suffix)):
                fail("genc --target wasm wrote no %s_w%s" % (model, suffix))

    print("wasm_check: trained and built 4 wasm and 4 native samplers in %.0f s" % (time.time() - t0))
    upload = write_upload(os.path.join(www, "upload.png"), os.path.join(native, "cyclegan_w.h"))
    handler = functools.partial(QuietHandler, directory=www)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for model, _, query in models:
            url = "http://127.0.0.1:%d/%s_w.html?%s" % (server.server_address[1], model, query)
            got = page_values(browser, os.path.join(tmp, "profile"), url)
            check_page(model, got, os.path.join(native, model + "_w"), tmp, upload)
    finally:
        server.shutdown()


def native_out(exe, *argv):
    return [float(v) for v in run([exe, exe + ".bin"] + [str(a) for a in argv]).split()]


def write_upload(path, header):
    """A gray PNG of domain B's size for the page's ?b= (an upload, as the
    page reads one): its pixels, from which the page's input must follow."""
    dims = dict(re.findall(r"#define CYCLEGAN_W_B_([CHW]) (\d+)", open(header).read()))
    c, h, w = int(dims["C"]), int(dims["H"]), int(dims["W"])
    pixels = [[(7 * x + 13 * y + (x * y) % 17) % 256 for x in range(w)] for y in range(h)]
    raw = b"".join(b"\0" + bytes(row) for row in pixels)
    chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data +
                                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return [p for row in pixels for p in row] * c


def check_page(model, got, exe, tmp, upload):
    if model == "cyclegan":
        if got.get("kind") != "translator" or not got.get("ab") or not got.get("ba"):
            fail("cyclegan's page translated nothing: %s" % str(got)[:300])
        lo, hi = got["rangeB"]
        want_in = [lo + (hi - lo) * p / 255 for p in upload]
        if len(got["ba"]["input"]) != len(want_in) or \
                max(abs(a - b) for a, b in zip(got["ba"]["input"], want_in)) > 1e-6 * (hi - lo):
            fail("cyclegan: the page read upload.png as other values than its pixels")
        for d, out in (("ab", "B"), ("ba", "A")):
            src = os.path.join(tmp, "in_" + d)
            with open(src, "w") as f:
                f.write("\n".join(repr(v) for v in got[d]["input"]))
            want = native_out(exe, d, src)
            worst = compare("cyclegan " + d, got[d]["output"], want)
            lo, hi = got["range" + out]
            compare_pixels("cyclegan " + d, got[d]["pixels"], want, got["shape" + out], lo, hi)
            print("wasm_check: cyclegan %s: %d outputs within %.2g of the native sampler's" % (d, len(want), worst))
        return
    first = got["first"]
    label = 7 if model == "cgan" else 0
    if got.get("kind") != "sampler" or first["label"] != label or first["seed"] != got["seed"] * got["count"]:
        fail("%s's page drew something else: %s" % (model, str(got)[:300]))
    want = native_out(exe, "sample", first["seed"], label)
    worst = compare(model, first["values"], want)
    if model == "gan_ring":
        if first["pixel"][:3] == [255, 255, 255]:
            fail("gan_ring: no point on the canvas where the first sample is")
    else:
        compare_pixels(model, first["pixels"], want, got["shape"], got["range"][0], got["range"][1])
    print("wasm_check: %s: sample seed %d, %d outputs within %.2g of the native sampler's" %
          (model, first["seed"], len(want), worst))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


if __name__ == "__main__":
    main()
