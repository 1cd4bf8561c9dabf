#!/usr/bin/env python3
"""The scaling model of data-parallel training (bench/README.md).

    bench/mpi_model.py FILE

FILE has a line per model: NAME VALUES BATCH MS, the values all-reduced per
step, the spec's batch and the step's milliseconds on one core at that
batch.  A step on R ranks computes B / R examples on each and then
all-reduces 4 * VALUES bytes (float) with a ring: 2 (R - 1) / R * bytes /
bandwidth + 2 (R - 1) * latency.  Nothing overlaps (genc's all-reduce runs
after the backward), so the efficiency is compute / (compute + all-reduce).
Prints, per link, the efficiency at each R with the spec's batch as the
global batch, and the per-rank batch (--per-rank-batch) that keeps it at
90% or more."""
import sys

LINKS = [("10 Gb/s TCP", 10e9 / 8, 20e-6), ("100 Gb/s RDMA", 100e9 / 8, 3e-6)]
RANKS = [2, 4, 8, 16, 64]


def allreduce(nbytes, r, bw, lat):
    return 2 * (r - 1) / r * nbytes / bw + 2 * (r - 1) * lat


def main():
    rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
    for name, values, batch, ms in rows:
        values, batch, ms = int(values), int(batch), float(ms)
        nbytes = 4 * values
        per_ex = ms / 1000 / batch
        print(f"\n### {name}: {nbytes / 1e6:.2f} MB all-reduced per step, {1000 * per_ex:.3f} ms per "
              f"example on one core (batch {batch}: {ms:.1f} ms/step)\n")
        print("| link | " + " | ".join(f"R = {r}" for r in RANKS) + " | per-rank batch for 90% at R = 16 |")
        print("| --- |" + " --- |" * (len(RANKS) + 1))
        for link, bw, lat in LINKS:
            cells = []
            for r in RANKS:
                if batch % r:
                    cells.append("-")
                    continue
                comp = per_ex * batch / r
                comm = allreduce(nbytes, r, bw, lat)
                cells.append(f"{100 * comp / (comp + comm):.0f}% ({1000 * comm:.2f} ms)")
            need = 9 * allreduce(nbytes, 16, bw, lat) / per_ex
            print(f"| {link} | " + " | ".join(cells) + f" | {int(need) + 1} |")


if __name__ == "__main__":
    main()
