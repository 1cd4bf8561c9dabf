#!/usr/bin/python3
"""The PyTorch reference that bench/run.sh times next to genc's trainers.

    /usr/bin/python3 bench/torch_gan.py MODEL STEPS [--seed S] [--threads N]
                                        [--batch B] [--data DIR]
    /usr/bin/python3 bench/torch_gan.py MODEL --count-params

MODEL is gan_mlp, dcgan, vae, cyclegan or dcgan_images: the same networks,
batch, optimizers, objective and data as specs/MODEL.gm.  (The file keeps
its name from when it covered the GANs only.)  Trains STEPS steps and times
the whole training loop (data batches, latents or noise, the updates, the
per-step metrics), as genc's metrics.csv does; loading the data and building
the model are not timed, as in genc.  The last line of output is the result:

    result model=gan_mlp steps=2000 batch=64 threads=2 blas_threads=1 params=... seconds=...
           ms_per_step=... peak_rss_kib=... loss_D=... loss_G=... D_x=... D_G_z=...   (one line)

ending with the model's own metrics, named as in genc's metrics.csv and
averaged over the last 200 steps: loss_D loss_G D_x D_G_z for the GANs,
loss rec kl for the VAE, loss_G loss_DA loss_DB cycle for the CycleGAN.

--count-params prints the model's parameter count (params=N) and exits,
for run.sh to check against genc's before it times anything.

--batch overrides the spec's batch (bench/sweep.sh times dcgan at several);
--data is the Fashion-MNIST directory, or for dcgan_images the folder of
images (bench/images.py writes one), which it reads as genc's trainer does.

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
IDX_LABELS_MAGIC = 2049
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")  # what genc's folder reader takes (genrt_data.c)
TAIL = 200  # steps at the end whose mean metrics the result line shows

# The GANs: specs/gan_mlp.gm, specs/dcgan.gm and specs/dcgan_images.gm.
GAN_LATENT = 100
GAN_LR = 2e-4
GAN_BETAS = (0.5, 0.999)
GAN_RANGE = (-1.0, 1.0)
GAN_METRICS = ("loss_D", "loss_G", "D_x", "D_G_z")

# The VAE: specs/vae.gm.
VAE_LATENT = 20
VAE_LR = 1e-3
VAE_RANGE = (0.0, 1.0)
VAE_METRICS = ("loss", "rec", "kl")

# The CycleGAN: specs/cyclegan.gm, sneakers (7) to ankle boots (9).
CYCLE_CLASSES = (7, 9)
CYCLE_WEIGHT = 10.0
CYCLE_METRICS = ("loss_G", "loss_DA", "loss_DB", "cycle")


def read_idx(path, magic, dims):
    """The payload of a gzip'd IDX file as uint8, shaped by its header."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    head = np.frombuffer(raw, dtype=">u4", count=1 + dims)
    shape = tuple(int(d) for d in head[1:])
    if head[0] != magic or len(raw) != 4 * (1 + dims) + int(np.prod(shape)):
        sys.exit(f"torch_gan.py: {path}: not an IDX file of {dims} dimension(s)")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 * (1 + dims)).reshape(shape)


def load_fmnist(data_dir):
    """The training images as uint8 [N, 1, 28, 28]."""
    images = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz"), IDX_IMAGES_MAGIC, 3)
    return images[:, None]


def load_flat(data_dir):
    """The training images as uint8 [N, 784], for the MLPs."""
    return load_fmnist(data_dir).reshape(-1, 784)


def load_fmnist_classes(data_dir, classes):
    """The training images of each class, in file order, as genc's
    `class K` filter keeps them: a list of uint8 [N_k, 1, 28, 28]."""
    images = load_fmnist(data_dir)
    labels = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"), IDX_LABELS_MAGIC, 1)
    if len(labels) != len(images):
        sys.exit(f"torch_gan.py: {data_dir}: {len(images)} images but {len(labels)} labels")
    return [images[labels == k] for k in classes]


def image_files(folder):
    """The image files genc's trainer reads from folder: the images in it,
    or else those in its class subfolders, each list sorted by name."""
    def listing(d):
        names = sorted(os.listdir(d))
        files = [n for n in names if n.lower().endswith(IMAGE_SUFFIXES) and os.path.isfile(os.path.join(d, n))]
        dirs = [n for n in names if os.path.isdir(os.path.join(d, n))]
        return files, dirs

    if not os.path.isdir(folder):
        sys.exit(f"torch_gan.py: {folder}: no such directory")
    files, dirs = listing(folder)
    paths = [os.path.join(folder, n) for n in files]
    if not paths:
        for d in dirs:
            paths += [os.path.join(folder, d, n) for n in listing(os.path.join(folder, d))[0]]
    if not paths:
        sys.exit(f"torch_gan.py: {folder}: no images (.png, .jpg, .jpeg) in it or its subfolders")
    return paths


def load_folder(folder, shape):
    """Every image of folder decoded once, as uint8 [N, C, H, W]: genc's
    trainer, too, decodes the whole folder before it starts."""
    from PIL import Image  # python3-pil; only this model needs it

    c, h, w = shape
    paths = image_files(folder)
    out = np.empty((len(paths), h, w, c), dtype=np.uint8)
    for i, p in enumerate(paths):
        with Image.open(p) as im:
            im = im.convert("RGB" if c == 3 else "L")
            if im.size != (w, h):
                im = im.resize((w, h), Image.BILINEAR)
            out[i] = np.asarray(im).reshape(h, w, c)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


class Batches:
    """Shuffled batches of one epoch after another; the last incomplete
    batch of each epoch is dropped.  Images stay uint8 until a batch is
    drawn, then map to [lo, hi] (the spec's data range)."""

    def __init__(self, images, seed, batch, value_range):
        if len(images) < batch:
            sys.exit(f"torch_gan.py: {len(images)} examples, fewer than a batch of {batch}")
        self.images = images
        self.rng = np.random.default_rng(seed)
        self.batch = batch
        lo, hi = value_range
        self.div = 255.0 / (hi - lo)  # [-1, 1]: x / 127.5 - 1
        self.lo = lo
        self.order = None
        self.pos = 0

    def next(self):
        if self.order is None or self.pos + self.batch > len(self.order):
            self.order = self.rng.permutation(len(self.images))
            self.pos = 0
        idx = self.order[self.pos:self.pos + self.batch]
        self.pos += self.batch
        x = torch.from_numpy(self.images[idx]).float()
        return x / self.div + self.lo


# ---- the networks of each spec, layer for layer --------------------------------
# genc's conv and deconv pad with zeros, as these do; its batchnorm is
# torch's (momentum 0.1, eps 1e-5, biased variance to normalize, unbiased
# for the running one), its instancenorm torch's with affine=True, and its
# weights start as torch's defaults: U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
# with fan_in out_channels * k * k for a deconv, as torch reckons it.

def gan_mlp():
    G = nn.Sequential(
        nn.Linear(100, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 784), nn.Tanh())
    D = nn.Sequential(
        nn.Linear(784, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 1))
    return G, D


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
    return G, D


def dcgan_images():
    G = nn.Sequential(
        nn.Unflatten(1, (100, 1, 1)),
        nn.ConvTranspose2d(100, 512, 4, 1, 0, bias=False), nn.BatchNorm2d(512), nn.ReLU(),
        nn.ConvTranspose2d(512, 256, 4, 2, 1, bias=False), nn.BatchNorm2d(256), nn.ReLU(),
        nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 3, 4, 2, 1, bias=False), nn.Tanh())
    D = nn.Sequential(
        nn.Conv2d(3, 64, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.Conv2d(128, 256, 4, 2, 1, bias=False), nn.BatchNorm2d(256), nn.LeakyReLU(0.2),
        nn.Conv2d(256, 512, 4, 2, 1, bias=False), nn.BatchNorm2d(512), nn.LeakyReLU(0.2),
        nn.Conv2d(512, 1, 4, 1, 0, bias=False), nn.Flatten())
    return G, D


def vae():
    E = nn.Sequential(
        nn.Linear(784, 400), nn.ReLU(),
        nn.Linear(400, 2 * VAE_LATENT))  # mu, then logvar
    Dec = nn.Sequential(
        nn.Linear(VAE_LATENT, 400), nn.ReLU(),
        nn.Linear(400, 784))  # Bernoulli logits
    return E, Dec


class Residual(nn.Sequential):
    """genc's `residual { ... }`: the block's layers, plus the block's input."""

    def forward(self, x):
        return x + super().forward(x)


def cyclegan():
    def conv_in(ci, co, k, s, p):  # conv ... nobias; instancenorm
        return [nn.Conv2d(ci, co, k, s, p, bias=False), nn.InstanceNorm2d(co, affine=True)]

    def generator():
        return nn.Sequential(
            *conv_in(1, 32, 7, 1, 3), nn.ReLU(),
            *conv_in(32, 64, 4, 2, 1), nn.ReLU(),
            Residual(*conv_in(64, 64, 3, 1, 1), nn.ReLU(), *conv_in(64, 64, 3, 1, 1)),
            Residual(*conv_in(64, 64, 3, 1, 1), nn.ReLU(), *conv_in(64, 64, 3, 1, 1)),
            nn.ConvTranspose2d(64, 32, 4, 2, 1, bias=False), nn.InstanceNorm2d(32, affine=True), nn.ReLU(),
            nn.Conv2d(32, 1, 7, 1, 3), nn.Tanh())

    def patch_discriminator():  # scores 7x7 patches
        return nn.Sequential(
            nn.Conv2d(1, 32, 4, 2, 1), nn.LeakyReLU(0.2),
            *conv_in(32, 64, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(64, 1, 3, 1, 1))

    return generator(), generator(), patch_discriminator(), patch_discriminator()


# ---- training ----------------------------------------------------------------


def n_params(*nets):
    """Trainable parameters, norms' affine ones included; genc --summary counts the same."""
    return sum(p.numel() for net in nets for p in net.parameters())


def train_gan(build, data, steps, seed, batch):
    """Trains a GAN; returns (parameter count, per-step metrics, seconds)."""
    batches = Batches(data, seed, batch, GAN_RANGE)
    G, D = build()
    G.train()
    D.train()
    opt_G = torch.optim.Adam(G.parameters(), lr=GAN_LR, betas=GAN_BETAS)
    opt_D = torch.optim.Adam(D.parameters(), lr=GAN_LR, betas=GAN_BETAS)
    bce = nn.BCEWithLogitsLoss()
    ones = torch.ones(batch, 1)
    zeros = torch.zeros(batch, 1)
    d_params = list(D.parameters())
    metrics = np.zeros((steps, len(GAN_METRICS)))

    t0 = time.perf_counter()
    for t in range(steps):
        x = batches.next()
        z = torch.randn(batch, GAN_LATENT)
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
    return n_params(G, D), metrics, seconds


def train_vae(build, data, steps, seed, batch):
    """Trains the VAE; returns (parameter count, per-step metrics, seconds)."""
    batches = Batches(data, seed, batch, VAE_RANGE)
    E, Dec = build()
    E.train()
    Dec.train()
    params = [*E.parameters(), *Dec.parameters()]
    # The spec gives E and Dec an Adam each, with the same settings; Adam
    # works parameter by parameter, so one Adam over both is the same update.
    opt = torch.optim.Adam(params, lr=VAE_LR)
    metrics = np.zeros((steps, len(VAE_METRICS)))

    t0 = time.perf_counter()
    for t in range(steps):
        x = batches.next()
        h = E(x)
        mu, logvar = h[:, :VAE_LATENT], h[:, VAE_LATENT:]
        z = mu + torch.exp(logvar / 2) * torch.randn_like(mu)
        logits = Dec(z)

        # The negative ELBO per example, as genc's metrics: each term summed
        # over its dimensions, then averaged over the batch.
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / batch
        kl = -0.5 * torch.sum(1 + logvar - mu * mu - torch.exp(logvar)) / batch
        loss = rec + kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

        # Per-step metrics, as genc writes a metrics.csv row every step.
        metrics[t] = (loss.item(), rec.item(), kl.item())
    seconds = time.perf_counter() - t0
    return n_params(E, Dec), metrics, seconds


def train_cyclegan(build, data, steps, seed, batch):
    """Trains the CycleGAN as compiler/objectives/cyclegan.c does; returns
    (parameter count, per-step metrics, seconds).

    One step is one forward pass of everything and one update of all four
    networks, every gradient taken before any update:
      loss_G  = mse(DB(G(a)), 1) + mse(DA(F(b)), 1)
              + 10 (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)      (means over every value)
      loss_DA = (mse(DA(a), 1) + mse(DA(F(b)), 0)) / 2, and loss_DB alike,
    the generators' gradient through the discriminators as they were, the
    discriminators' on the same fakes.  The LSGAN generator term is genc's
    2 * 0.5 E[(D - 1)^2]; the metric `cycle` is the unweighted L1 sum over 2."""
    domain_a, domain_b = data
    batches_a = Batches(domain_a, seed, batch, GAN_RANGE)
    batches_b = Batches(domain_b, seed + 1, batch, GAN_RANGE)
    G, Fn, DA, DB = build()
    nets = (G, Fn, DA, DB)
    for net in nets:
        net.train()
    opts = [torch.optim.Adam(net.parameters(), lr=GAN_LR, betas=GAN_BETAS) for net in nets]
    gen_params = [*G.parameters(), *Fn.parameters()]
    disc_params = [*DA.parameters(), *DB.parameters()]
    metrics = np.zeros((steps, len(CYCLE_METRICS)))

    t0 = time.perf_counter()
    for t in range(steps):
        a = batches_a.next()
        b = batches_b.next()
        fake_b = G(a)
        rec_a = Fn(fake_b)
        fake_a = Fn(b)
        rec_b = G(fake_a)
        # one pass of each discriminator over its fakes serves both losses
        # (genc's IR holds it once, too); the backward passes below take
        # only the gradients each loss's networks need
        da_fake = DA(fake_a)
        db_fake = DB(fake_b)
        cyc = F.l1_loss(rec_a, a) + F.l1_loss(rec_b, b)
        loss_G = torch.mean((db_fake - 1) ** 2) + torch.mean((da_fake - 1) ** 2) + CYCLE_WEIGHT * cyc
        loss_DA = 0.5 * (torch.mean((DA(a) - 1) ** 2) + torch.mean(da_fake ** 2))
        loss_DB = 0.5 * (torch.mean((DB(b) - 1) ** 2) + torch.mean(db_fake ** 2))

        for opt in opts:
            opt.zero_grad(set_to_none=True)
        loss_G.backward(inputs=gen_params, retain_graph=True)
        (loss_DA + loss_DB).backward(inputs=disc_params)  # DA and DB share no parameter
        for opt in opts:
            opt.step()

        # Per-step metrics, as genc writes a metrics.csv row every step.
        metrics[t] = (loss_G.item(), loss_DA.item(), loss_DB.item(), 0.5 * cyc.item())
    seconds = time.perf_counter() - t0
    return n_params(*nets), metrics, seconds


# model -> (trainer, networks, the spec's batch, its data, the names of the
# metrics in genc's metrics.csv).  The data loader takes --data.
MODELS = {
    "gan_mlp": (train_gan, gan_mlp, 64, load_flat, GAN_METRICS),
    "dcgan": (train_gan, dcgan, 64, load_fmnist, GAN_METRICS),
    "vae": (train_vae, vae, 128, load_flat, VAE_METRICS),
    "cyclegan": (train_cyclegan, cyclegan, 8, lambda d: load_fmnist_classes(d, CYCLE_CLASSES), CYCLE_METRICS),
    "dcgan_images": (train_gan, dcgan_images, 64, lambda d: load_folder(d, (3, 64, 64)), GAN_METRICS),
}
FOLDER_MODELS = ("dcgan_images",)  # --data is a folder of images, and has no default


def main():
    ap = argparse.ArgumentParser(description="PyTorch reference trainer for genc's benchmark")
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("steps", type=int, nargs="?")
    ap.add_argument("--count-params", action="store_true", help="print params=N and exit")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, help="the batch (default: the spec's)")
    ap.add_argument("--data", help=f"the data directory (default {DEFAULT_DATA}; "
                    f"for {', '.join(FOLDER_MODELS)} a folder of images, required)")
    args = ap.parse_args()
    train, build, spec_batch, load, names = MODELS[args.model]
    if args.count_params:
        print(f"params={n_params(*build())}")
        return
    if args.steps is None:
        ap.error("STEPS is required")
    if args.steps < 1:
        ap.error("STEPS must be at least 1")
    if args.batch is not None and args.batch < 1:
        ap.error("--batch must be at least 1")
    if args.data is None:
        if args.model in FOLDER_MODELS:
            ap.error(f"{args.model} needs --data DIR, a folder of images (bench/images.py writes one)")
        args.data = DEFAULT_DATA

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # genc's trainers run with FTZ/DAZ too
    torch.manual_seed(args.seed)

    batch = args.batch or spec_batch
    data = load(args.data)
    n, metrics, seconds = train(build, data, args.steps, args.seed, batch)

    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    tail = metrics[-min(args.steps, TAIL):].mean(axis=0)
    means = " ".join(f"{k}={v:.4f}" for k, v in zip(names, tail))
    print(f"result model={args.model} steps={args.steps} batch={batch} threads={args.threads} "
          f"blas_threads={os.environ['OPENBLAS_NUM_THREADS']} "
          f"params={n} seconds={seconds:.3f} ms_per_step={1000 * seconds / args.steps:.3f} "
          f"peak_rss_kib={rss_kib} {means}")


if __name__ == "__main__":
    main()
