#!/usr/bin/python3
"""The PyTorch reference that bench/run.sh times next to genc's trainers.

    /usr/bin/python3 bench/torch_gan.py MODEL STEPS [--seed S] [--threads N] [--data DIR]

MODEL is gan_mlp or dcgan: the same networks, batch, optimizers, objective
and data as specs/MODEL.gm.  Trains STEPS steps on Fashion-MNIST and times
the whole training loop (data batches, latents, both updates, the per-step
metrics), as genc's metrics.csv does; loading the data and building the
model are not timed, as in genc.  The last line of output is the result:

    result model=gan_mlp steps=2000 threads=2 blas_threads=1 params=... seconds=... ms_per_step=...
           peak_rss_kib=... loss_D=... loss_G=... D_x=... D_G_z=...   (one line)

loss_D ... D_G_z are means over the last 200 steps.

Debian's torch does its GEMMs in OpenBLAS, which keeps its own threads
beside torch's OpenMP pool (--threads, default 2).  Set OPENBLAS_NUM_THREADS
so that the two together do not oversubscribe the cores (default 1): run.sh
tries --threads 2 with OPENBLAS_NUM_THREADS=1, and --threads 1 with 2.
"""

import argparse
import gzip
import os
import resource
import sys
import time

# OpenBLAS reads this once, when torch loads it; 1 is the safe default
# beside torch's 2 OpenMP threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402 (after the environment is set)
import torch  # noqa: E402
from torch import nn  # noqa: E402

BATCH = 64
LATENT = 100
LR = 2e-4
BETAS = (0.5, 0.999)
IDX_IMAGES_MAGIC = 2051
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


def load_images(data_dir):
    """The training images as uint8 [N, 28, 28], from the gzip'd IDX file."""
    path = os.path.join(data_dir, "train-images-idx3-ubyte.gz")
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, rows, cols = np.frombuffer(raw, dtype=">u4", count=4)
    if magic != IDX_IMAGES_MAGIC or len(raw) != 16 + n * rows * cols:
        sys.exit(f"torch_gan.py: {path}: not an IDX image file")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows, cols)


class Batches:
    """Shuffled batches of one epoch after another; the last incomplete
    batch of each epoch is dropped.  Images stay uint8 until a batch is
    drawn, then map to [-1, 1]."""

    def __init__(self, images, seed):
        self.images = images
        self.rng = np.random.default_rng(seed)
        self.order = None
        self.pos = 0

    def next(self, shape):
        if self.order is None or self.pos + BATCH > len(self.order):
            self.order = self.rng.permutation(len(self.images))
            self.pos = 0
        idx = self.order[self.pos:self.pos + BATCH]
        self.pos += BATCH
        x = torch.from_numpy(self.images[idx]).float()
        return (x / 127.5 - 1.0).view(shape)


def gan_mlp():
    G = nn.Sequential(
        nn.Linear(100, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 784), nn.Tanh())
    D = nn.Sequential(
        nn.Linear(784, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 1))
    return G, D, (BATCH, 784)


def dcgan():
    G = nn.Sequential(
        nn.Linear(100, 6272, bias=False), nn.BatchNorm1d(6272), nn.ReLU(),
        nn.Unflatten(1, (128, 7, 7)),
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
    D = nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(6272, 1))
    return G, D, (BATCH, 1, 28, 28)


MODELS = {"gan_mlp": gan_mlp, "dcgan": dcgan}


def main():
    ap = argparse.ArgumentParser(description="PyTorch reference trainer for genc's benchmark")
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("steps", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=DEFAULT_DATA)
    args = ap.parse_args()
    if args.steps < 1:
        ap.error("STEPS must be at least 1")

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # genc's trainers run with FTZ/DAZ too
    torch.manual_seed(args.seed)
    images = load_images(args.data)
    batches = Batches(images, args.seed)

    G, D, x_shape = MODELS[args.model]()
    G.train()
    D.train()
    opt_G = torch.optim.Adam(G.parameters(), lr=LR, betas=BETAS)
    opt_D = torch.optim.Adam(D.parameters(), lr=LR, betas=BETAS)
    bce = nn.BCEWithLogitsLoss()
    ones = torch.ones(BATCH, 1)
    zeros = torch.zeros(BATCH, 1)
    d_params = list(D.parameters())
    metrics = np.zeros((args.steps, 4))

    t0 = time.perf_counter()
    for t in range(args.steps):
        x = batches.next(x_shape)
        z = torch.randn(BATCH, LATENT)
        fake = G(z)

        # D step: a real batch and the detached fake, each its own BatchNorm batch.
        opt_D.zero_grad(set_to_none=True)
        d_real = D(x)
        d_fake = D(fake.detach())
        loss_D = bce(d_real, ones) + bce(d_fake, zeros)
        loss_D.backward()
        opt_D.step()

        # G step, non-saturating, through the updated D.  D's weights need no
        # gradient here; freezing them spares torch the work genc skips too.
        for p in d_params:
            p.requires_grad_(False)
        opt_G.zero_grad(set_to_none=True)
        loss_G = bce(D(fake), ones)
        loss_G.backward()
        opt_G.step()
        for p in d_params:
            p.requires_grad_(True)

        # Per-step metrics, as genc writes a metrics.csv row every step.
        with torch.no_grad():
            metrics[t] = (loss_D.item(), loss_G.item(),
                          torch.sigmoid(d_real).mean().item(),
                          torch.sigmoid(d_fake).mean().item())
    seconds = time.perf_counter() - t0

    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    # trainable parameters, BatchNorm's affine ones included; genc --summary counts the same
    n_params = sum(p.numel() for p in [*G.parameters(), *d_params])
    tail = metrics[-min(args.steps, 200):].mean(axis=0)
    print(f"result model={args.model} steps={args.steps} threads={args.threads} "
          f"blas_threads={os.environ['OPENBLAS_NUM_THREADS']} "
          f"params={n_params} seconds={seconds:.3f} ms_per_step={1000 * seconds / args.steps:.3f} "
          f"peak_rss_kib={rss_kib} loss_D={tail[0]:.4f} loss_G={tail[1]:.4f} "
          f"D_x={tail[2]:.4f} D_G_z={tail[3]:.4f}")


if __name__ == "__main__":
    main()
