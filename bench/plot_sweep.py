#!/usr/bin/python3
"""Plots bench/sweep.sh's CSV: ms per example against the batch for genc
and PyTorch, and beside it the memory: genc's arena (`genc --summary`) and
both sides' peak RSS.

    /usr/bin/python3 bench/plot_sweep.py SWEEP_CSV OUT_PNG [--title TEXT]
"""

import argparse
import csv
import sys

import matplotlib

matplotlib.use("Agg")  # no display: write the file only
import matplotlib.pyplot as plt  # noqa: E402

MIB = 1024 * 1024
COLUMNS = ("batch", "genc_ms_per_example", "torch_ms_per_example", "genc_arena_bytes",
           "genc_peak_rss_kib", "torch_peak_rss_kib")


def main():
    ap = argparse.ArgumentParser(description="plot genc's batch sweep")
    ap.add_argument("csv")
    ap.add_argument("png")
    ap.add_argument("--title", default="dcgan")
    args = ap.parse_args()

    with open(args.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"plot_sweep.py: {args.csv}: no rows")
    missing = [c for c in COLUMNS if c not in rows[0]]
    if missing:
        sys.exit(f"plot_sweep.py: {args.csv}: no column {', '.join(missing)}")
    rows.sort(key=lambda r: int(r["batch"]))
    batch = [int(r["batch"]) for r in rows]

    def col(name, scale=1.0):
        return [float(r[name]) * scale for r in rows]

    fig, (time_ax, mem_ax) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    time_ax.plot(batch, col("genc_ms_per_example"), "o-", label="genc")
    time_ax.plot(batch, col("torch_ms_per_example"), "s-", label="PyTorch")
    time_ax.set_ylabel("ms per example (lower is faster)")
    time_ax.set_title("training time")
    time_ax.set_ylim(bottom=0)

    mem_ax.plot(batch, col("genc_arena_bytes", 1 / MIB), "o--", label="genc arena (genc --summary)")
    mem_ax.plot(batch, col("genc_peak_rss_kib", 1 / 1024), "o-", label="genc peak RSS")
    mem_ax.plot(batch, col("torch_peak_rss_kib", 1 / 1024), "s-", label="PyTorch peak RSS")
    mem_ax.set_ylabel("MiB")
    mem_ax.set_title("memory")
    mem_ax.set_ylim(bottom=0)

    for ax in (time_ax, mem_ax):
        ax.set_xscale("log", base=2)
        ax.set_xticks(batch)
        ax.set_xticklabels([str(b) for b in batch])
        ax.set_xlabel("batch")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(args.title)
    fig.savefig(args.png, dpi=100)


if __name__ == "__main__":
    main()
