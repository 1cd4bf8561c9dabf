#!/usr/bin/env python3
"""report_check.py TRAINER PNG_TO_PPM: the run report as a person sees it (make report-check).

Trains TRAINER (tests/specs/report_gan.gm: a grid and a checkpoint every 10
steps) for 20 steps in a temporary directory, resumes it to 40, rebuilds the
page with `TRAINER report`, and renders report.html in headless Chromium:

  - the DOM (--dump-dom): the headings, a chart per metric group whose series
    paths have many points, the dashed line where the resumed run joined,
    four sample grids as PNG data: URIs with their steps, the networks'
    diagram, the summary and the spec; no script and nothing fetched;
  - the screenshot: where the browser laid out each chart, grid and the
    diagram (a copy of the page with a script that records the boxes, the
    page itself has none), the pixels are not blank: a chart shows its
    series' colours, a grid varies.

Chromium that cannot start is a failure, never a skip."""
import base64
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

CHROMIUM = os.environ.get("CHROMIUM", "chromium")
WIDTH = 1280
PNG_TO_PPM = None  # tests/png_to_ppm.c, built
SERIES = [(0x1F, 0x77, 0xB4), (0xD6, 0x27, 0x28)]  # the palette's first two (genrt_report.c)


class Failure(Exception):
    pass


def fail(msg):
    raise Failure(msg)


def ok(msg):
    print(f"report-check: ok: {msg}")


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        fail(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-800:]}")
    return p


def chromium(tmp, args, what, timeout=60):
    exe = shutil.which(CHROMIUM)
    if not exe:
        fail(f"{CHROMIUM} is not installed (Debian: apt-get install chromium; make deps installs it)")
    cmd = [exe, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--force-device-scale-factor=1", f"--user-data-dir={tmp}/profile",
           "--virtual-time-budget=5000"]
    if os.geteuid() == 0:
        cmd.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    try:
        p = subprocess.run(cmd + args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        fail(f"chromium did not finish {what} in {timeout} s")
    if p.returncode != 0:
        fail(f"chromium could not start or render ({what}), exit {p.returncode}: "
             f"{p.stderr.strip()[-800:]}")
    return p.stdout


def read_png(path, tmp):
    """(width, height, RGB bytes) of a PNG, through png_to_ppm (stb_image)."""
    ppm = os.path.join(tmp, "shot.ppm")
    run([PNG_TO_PPM, path, ppm])
    data = open(ppm, "rb").read()
    m = re.match(rb"P6\n(\d+) (\d+)\n255\n", data)
    if not m:
        fail(f"{ppm} is not a binary PPM")
    w, h = int(m.group(1)), int(m.group(2))
    return w, h, data[m.end():]


def region(img, box):
    """The pixels inside box (left, top, width, height), as (r, g, b)."""
    w, h, rgb = img
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w, int(box[0] + box[2])), min(h, int(box[1] + box[3]))
    if x1 - x0 < 10 or y1 - y0 < 10:
        fail(f"a box {box} lies outside the {w}x{h} screenshot")
    px = []
    for y in range(y0, y1):
        row = rgb[3 * (y * w + x0):3 * (y * w + x1)]
        px.extend(zip(row[0::3], row[1::3], row[2::3]))
    return px


def near(p, c, tol=40):
    return abs(p[0] - c[0]) + abs(p[1] - c[1]) + abs(p[2] - c[2]) <= tol


def lum_std(px):
    ls = [0.299 * r + 0.587 * g + 0.114 * b for r, g, b in px]
    m = sum(ls) / len(ls)
    return (sum((v - m) ** 2 for v in ls) / len(ls)) ** 0.5


def check_dom(dom):
    for h in ("run", "metrics", "samples", "networks", "summary", "spec"):
        if not re.search(rf'<h2 id="{h}">', dom):
            fail(f"the page has no '{h}' heading")
    charts = re.findall(r'<svg class="chart".*?</svg>', dom, re.S)
    titles = [re.search(r"<title>(.*?)</title>", c).group(1) for c in charts]
    if titles != ["Losses", "D(x) and D(G(z))"]:
        fail(f"charts {titles}, expected Losses and D(x) and D(G(z))")
    for t, c in zip(titles, charts):
        paths = re.findall(r'<path class="series"[^>]* d="([^"]*)"', c)
        if len(paths) != 2:
            fail(f"chart {t}: {len(paths)} series, expected 2")
        for d in paths:
            if d.count("L") < 35:
                fail(f"chart {t}: a series of {d.count('L') + 1} points, expected 40: {d[:200]}")
        for part in ('class="axis x"', 'class="axis y"', 'class="legend"', ">step</text>",
                     'class="resume"'):
            if part not in c:
                fail(f"chart {t} lacks {part}")
        if len(re.findall(r'class="tick"', c)) < 6:
            fail(f"chart {t} has fewer than 6 tick labels")
    imgs = re.findall(r'<img alt="samples at step (\d+)" src="data:image/png;base64,([^"]{100,})"', dom)
    if [int(s) for s, _ in imgs] != [10, 20, 30, 40]:
        fail(f"sample grids of steps {[s for s, _ in imgs]}, expected 10 20 30 40")
    for s in (10, 20, 30, 40):
        if f"<figcaption>step {s}</figcaption>" not in dom:
            fail(f"no caption 'step {s}'")
    if not re.search(r'<div class="diagram"><svg', dom):
        fail("no networks diagram (is Graphviz's dot installed? make deps installs it)")
    for part in ("21 to 40 (resumed)", "dense 128", "model report_gan", "BLAS thread"):
        if part not in dom:
            fail(f"the page lacks '{part}'")
    if "<script" in dom:
        fail("the page has a script")
    if re.search(r'(src|href)="(?!data:|#)', dom):
        fail("the page fetches something: " + re.search(r'(src|href)="(?!data:|#)[^"]*"', dom).group(0))
    return len(charts), len(imgs)


def flat_png(w, h, v=128):
    """A PNG of one grey: a grid that shows nothing."""
    raw = b"".join(b"\0" + bytes([v]) * w for _ in range(h))
    chunk = lambda k, b: struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PROBE = """<script>addEventListener('load', () => {
  const q = s => [...document.querySelectorAll(s)].map(e => {
    const r = e.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; });
  document.body.setAttribute('data-boxes', JSON.stringify({charts: q('svg.chart'),
    imgs: q('figure img'), diagram: q('.diagram svg'), height: document.documentElement.scrollHeight}));
});</script>"""


def check_page(tmp, page):
    """The DOM and the screenshot of page; raises Failure."""
    # A copy that records where the browser put things, once the images
    # load; the DOM checks look at the rest of what the browser made of it.
    probe = os.path.join(tmp, "probe.html")
    open(probe, "w").write(open(page).read().replace("</body>", PROBE + "</body>"))
    pdom = chromium(tmp, ["--window-size=1280,2000", "--dump-dom", "file://" + probe], "--dump-dom")
    m = re.search(r"data-boxes=\"([^\"]*)\"", pdom)
    if not m:
        fail("the probe recorded no boxes")
    n_charts, n_imgs = check_dom(pdom.replace(PROBE, "").replace(m.group(0), ""))
    boxes = json.loads(m.group(1).replace("&quot;", '"'))
    height = min(int(boxes["height"]) + 10, 12000)
    shot = os.path.join(tmp, "shot.png")
    if os.path.exists(shot):
        os.remove(shot)
    chromium(tmp, [f"--window-size={WIDTH},{height}", f"--screenshot={shot}", "file://" + probe],
             "the screenshot")
    if not os.path.isfile(shot):
        fail("chromium wrote no screenshot")
    img = read_png(shot, tmp)
    if len(boxes["charts"]) != n_charts or len(boxes["imgs"]) != n_imgs or not boxes["diagram"]:
        fail(f"the browser laid out {boxes}")
    for i, b in enumerate(boxes["charts"]):
        px = region(img, b)
        ink = sum(1 for p in px if sum(p) < 600) / len(px)
        if ink < 0.01:
            fail(f"chart {i + 1} is blank in the screenshot ({ink:.2%} of its pixels drawn)")
        for c in SERIES:
            k = sum(1 for p in px if near(p, c))
            if k < 150:
                fail(f"chart {i + 1}: {k} pixels of its series colour #{bytes(c).hex()}, "
                     "expected a line")
    for i, b in enumerate(boxes["imgs"]):
        if b[2] < 50 or b[3] < 50:
            fail(f"grid {i + 1} is {b[2]}x{b[3]} px")
        s = lum_std(region(img, (b[0] + 3, b[1] + 3, b[2] - 6, b[3] - 6)))  # inside the border
        if s < 10:
            fail(f"grid {i + 1} is flat in the screenshot (luminance std {s:.1f})")
    s = lum_std(region(img, boxes["diagram"][0]))
    if s < 5:
        fail(f"the diagram is blank in the screenshot (luminance std {s:.1f})")
    return n_charts, n_imgs, img


def main():
    try:
        check()
    except Failure as e:
        print(f"report-check: FAIL: {e}", file=sys.stderr)
        sys.exit(1)


def check():
    global PNG_TO_PPM
    if len(sys.argv) != 3:
        fail("usage: report_check.py TRAINER PNG_TO_PPM")
    trainer = os.path.abspath(sys.argv[1])
    PNG_TO_PPM = os.path.abspath(sys.argv[2])
    tmp = tempfile.mkdtemp(prefix="genc-report-check-")
    try:
        d = os.path.join(tmp, "run")
        run([trainer, "train", "--steps", "20", "--out", d, "--quiet", "--threads", "1"])
        run([trainer, "train", "--steps", "40", "--out", d, "--resume", f"{d}/checkpoint.ckpt",
             "--quiet", "--threads", "1"])
        page = os.path.join(d, "report.html")
        if not os.path.isfile(page):
            fail("train wrote no report.html")
        rebuilt = os.path.join(tmp, "rebuilt.html")
        run([trainer, "report", d, "-o", rebuilt])
        strip = lambda s: re.sub(r"report of [0-9: -]+ UTC", "", s)
        if strip(open(page).read()) != strip(open(rebuilt).read()):
            fail("report rebuilt a different page from the same run")
        n_charts, n_imgs, img = check_page(tmp, page)
        ok(f"the DOM: {n_charts} charts of 2 series of 40 points with axes, ticks, a legend and the "
           f"resume; {n_imgs} grids as data: URIs; the diagram; no script, nothing fetched")
        ok(f"the screenshot ({img[0]}x{img[1]}): {n_charts} charts show their lines, {n_imgs} grids "
           "and the diagram are not blank")

        # The pixel checks catch what the DOM cannot: lines drawn in white,
        # grids of one grey.
        text = open(page).read()
        white = re.sub(r'(<path class="series"[^>]*stroke=")#[0-9a-f]{6}', r"\1#ffffff", text)
        flat = base64.b64encode(flat_png(200, 200)).decode()
        grey = re.sub(r"data:image/png;base64,[^\"]*", "data:image/png;base64," + flat, text)
        for name, planted, want in (("white lines", white, "pixels of its series colour"),
                                    ("flat grids", grey, "is flat in the screenshot")):
            bad = os.path.join(tmp, "planted.html")
            open(bad, "w").write(planted)
            try:
                check_page(tmp, bad)
            except Failure as e:
                if want not in str(e):
                    fail(f"planted {name}: caught, but as '{e}'")
                continue
            fail(f"planted {name}: not caught")
        ok("planted faults caught: white chart lines, flat grids")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
