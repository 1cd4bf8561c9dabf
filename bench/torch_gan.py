#!/usr/bin/python3
"""The PyTorch reference that bench/run.sh times next to genc's trainers.

    /usr/bin/python3 bench/torch_gan.py MODEL STEPS [--seed S] [--threads N] [--data DIR]

MODEL is gan_mlp, dcgan or vae: the same networks, batch, optimizers,
objective and data as specs/MODEL.gm.  (The file keeps its name from when it
covered the GANs only; the VAE is here too.)  Trains STEPS steps on
Fashion-MNIST and times the whole training loop (data batches, latents or
noise, the updates, the per-step metrics), as genc's metrics.csv does;
loading the data and building the model are not timed, as in genc.  The last
line of output is the result:

    result model=gan_mlp steps=2000 threads=2 blas_threads=1 params=... seconds=... ms_per_step=...
           peak_rss_kib=... loss_D=... loss_G=... D_x=... D_G_z=...   (one line)

followed by the model's own metrics, named as in genc's metrics.csv and
averaged over the last 200 steps: loss_D loss_G D_x D_G_z for the GANs,
loss rec kl for the VAE.

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
from torch.nn import functional as F  # noqa: E402

IDX_IMAGES_MAGIC = 2051
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
TAIL = 200  # steps at the end whose mean metrics the result line shows

# The GANs: specs/gan_mlp.gm and specs/dcgan.gm.
GAN_BATCH = 64
GAN_LATENT = 100
GAN_LR = 2e-4
GAN_BETAS = (0.5, 0.999)
GAN_RANGE = (-1.0, 1.0)
GAN_METRICS = ("loss_D", "loss_G", "D_x", "D_G_z")

# The VAE: specs/vae.gm.
VAE_BATCH = 128
VAE_LATENT = 20
VAE_LR = 1e-3
VAE_RANGE = (0.0, 1.0)
VAE_METRICS = ("loss", "rec", "kl")


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
    drawn, then map to [lo, hi] (the spec's data range)."""

    def __init__(self, images, seed, batch, value_range):
        self.images = images
        self.rng = np.random.default_rng(seed)
        self.batch = batch
        lo, hi = value_range
        self.div = 255.0 / (hi - lo)  # [-1, 1]: x / 127.5 - 1, as before
        self.lo = lo
        self.order = None
        self.pos = 0

    def next(self, shape):
        if self.order is None or self.pos + self.batch > len(self.order):
            self.order = self.rng.permutation(len(self.images))
            self.pos = 0
        idx = self.order[self.pos:self.pos + self.batch]
        self.pos += self.batch
        x = torch.from_numpy(self.images[idx]).float()
        return (x / self.div + self.lo).view(shape)


def gan_mlp():
    G = nn.Sequential(
        nn.Linear(100, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 784), nn.Tanh())
    D = nn.Sequential(
        nn.Linear(784, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 1))
    return G, D, (GAN_BATCH, 784)


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
    return G, D, (GAN_BATCH, 1, 28, 28)


def vae():
    E = nn.Sequential(
        nn.Linear(784, 400), nn.ReLU(),
        nn.Linear(400, 2 * VAE_LATENT))  # mu, then logvar
    Dec = nn.Sequential(
        nn.Linear(VAE_LATENT, 400), nn.ReLU(),
        nn.Linear(400, 784))  # Bernoulli logits
    return E, Dec, (VAE_BATCH, 784)


def train_gan(build, images, steps, seed):
    """Trains the GAN; returns (parameter count, per-step metrics, seconds)."""
    batches = Batches(images, seed, GAN_BATCH, GAN_RANGE)
    G, D, x_shape = build()
    G.train()
    D.train()
    opt_G = torch.optim.Adam(G.parameters(), lr=GAN_LR, betas=GAN_BETAS)
    opt_D = torch.optim.Adam(D.parameters(), lr=GAN_LR, betas=GAN_BETAS)
    bce = nn.BCEWithLogitsLoss()
    ones = torch.ones(GAN_BATCH, 1)
    zeros = torch.zeros(GAN_BATCH, 1)
    d_params = list(D.parameters())
    metrics = np.zeros((steps, len(GAN_METRICS)))

    t0 = time.perf_counter()
    for t in range(steps):
        x = batches.next(x_shape)
        z = torch.randn(GAN_BATCH, GAN_LATENT)
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

    # trainable parameters, BatchNorm's affine ones included; genc --summary counts the same
    n_params = sum(p.numel() for p in [*G.parameters(), *d_params])
    return n_params, metrics, seconds


def train_vae(build, images, steps, seed):
    """Trains the VAE; returns (parameter count, per-step metrics, seconds)."""
    batches = Batches(images, seed, VAE_BATCH, VAE_RANGE)
    E, Dec, x_shape = build()
    E.train()
    Dec.train()
    params = [*E.parameters(), *Dec.parameters()]
    # The spec gives E and Dec an Adam each, with the same settings; Adam
    # works parameter by parameter, so one Adam over both is the same update.
    opt = torch.optim.Adam(params, lr=VAE_LR)
    metrics = np.zeros((steps, len(VAE_METRICS)))

    t0 = time.perf_counter()
    for t in range(steps):
        x = batches.next(x_shape)
        h = E(x)
        mu, logvar = h[:, :VAE_LATENT], h[:, VAE_LATENT:]
        z = mu + torch.exp(logvar / 2) * torch.randn_like(mu)
        logits = Dec(z)

        # The negative ELBO per example, as genc's metrics: each term summed
        # over its dimensions, then averaged over the batch.
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / VAE_BATCH
        kl = -0.5 * torch.sum(1 + logvar - mu * mu - torch.exp(logvar)) / VAE_BATCH
        loss = rec + kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

        # Per-step metrics, as genc writes a metrics.csv row every step.
        metrics[t] = (loss.item(), rec.item(), kl.item())
    seconds = time.perf_counter() - t0

    return sum(p.numel() for p in params), metrics, seconds


# model -> (trainer, networks, names of the metrics in genc's metrics.csv)
MODELS = {
    "gan_mlp": (train_gan, gan_mlp, GAN_METRICS),
    "dcgan": (train_gan, dcgan, GAN_METRICS),
    "vae": (train_vae, vae, VAE_METRICS),
}


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

    train, build, names = MODELS[args.model]
    n_params, metrics, seconds = train(build, images, args.steps, args.seed)

    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    tail = metrics[-min(args.steps, TAIL):].mean(axis=0)
    means = " ".join(f"{k}={v:.4f}" for k, v in zip(names, tail))
    print(f"result model={args.model} steps={args.steps} threads={args.threads} "
          f"blas_threads={os.environ['OPENBLAS_NUM_THREADS']} "
          f"params={n_params} seconds={seconds:.3f} ms_per_step={1000 * seconds / args.steps:.3f} "
          f"peak_rss_kib={rss_kib} {means}")


if __name__ == "__main__":
    main()
