#!/usr/bin/python3
"""The PyTorch reference of `deno task bench --torch`: the same three models, data and optimiser.

MLP 784-128-10; small CNN conv5x5x8-pool-conv5x5x16-pool-dense; Keras CNN conv3x3x32-pool-
conv3x3x64-pool-dropout(0.5)-dense. Batch 128, Adam 1e-3 (epsilon 1e-8), softmax cross-entropy on
logits, PyTorch's default initialisation, Fashion-MNIST scaled to [0, 1].

Run with Debian's python and Debian's PyTorch (apt-get install python3-torch):

    /usr/bin/python3 tools/torch_reference.py --models mlp --limit 12800
    /usr/bin/python3 tools/torch_reference.py --help

Steady state, as the bench measures ours: warm-up batches first (they train, untimed), then the
timed samples in `--repeats` chunks, and samples/s is the median chunk's rate.

Two things in this process's surroundings would make PyTorch slower than a user's, so it changes
them before torch loads and says so in the first line it prints:
- OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some machines) force an older OpenBLAS kernel
  (AVX2 where OpenBLAS would pick AVX-512: about half the sgemm speed). Dropped from this process's
  environment (--keep-openblas-coretype keeps them).
- glibc returns every freed buffer over its mmap threshold to the kernel and maps it again on the
  next batch; its threshold only grows after a larger allocation, so a fresh process trains the
  Keras CNN several times slower until its first evaluation pass. mallopt fixes the mmap threshold
  at 32 MiB and the trim threshold at 1 GiB (what jemalloc or tcmalloc users get anyway);
  --keep-malloc leaves glibc's defaults.

Prints human-readable lines and, per result, one line `RESULT {json}`.
"""
import argparse
import os
import sys

CHANGES = []


def _argv_value(name, default):
    """A flag's value read before argparse runs (the environment must change before torch loads)."""
    for i, a in enumerate(sys.argv):
        if a == name and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return default


def _prepare_process():
    # OpenBLAS fixes its thread count when it loads (at `import torch`); torch.set_num_threads
    # does not change it. One OpenBLAS thread next to torch's own two keeps two cores from being
    # oversubscribed; the matmul figures run in their own processes with matching counts.
    blas_threads = _argv_value("--openblas-threads", "1")
    if blas_threads != "default" and os.environ.get("OPENBLAS_NUM_THREADS") != blas_threads:
        os.environ["OPENBLAS_NUM_THREADS"] = blas_threads
        CHANGES.append(f"set OPENBLAS_NUM_THREADS={blas_threads}")
    if "--keep-openblas-coretype" not in sys.argv:
        for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
            value = os.environ.pop(name, None)
            if value is not None:
                CHANGES.append(f"dropped {name}={value}")
    if "--keep-malloc" not in sys.argv:
        import ctypes
        try:
            libc = ctypes.CDLL("libc.so.6")
        except OSError as e:
            CHANGES.append(f"malloc thresholds left alone (no glibc: {e})")
            return
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        ok = libc.mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 and \
            libc.mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
        CHANGES.append("fixed glibc malloc thresholds (mmap 32 MiB, trim 1 GiB)" if ok
                       else "mallopt refused the malloc thresholds")


_prepare_process()
# The first line says what this process changed, before anything else can print.
print("torch_reference: " + ("; ".join(CHANGES) if CHANGES else "changed nothing"), flush=True)

import gzip  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

try:
    import numpy as np  # noqa: E402
    import torch  # noqa: E402
    import torch.nn as nn  # noqa: E402
    import torch.nn.functional as F  # noqa: E402
except ImportError as e:
    print(f"torch_reference: PyTorch is not installed for {sys.executable} ({e}); "
          f"install it with: apt-get install python3-torch", file=sys.stderr)
    sys.exit(3)

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
MODEL_NAMES = ("mlp", "small_cnn", "keras_cnn")


def read_idx(path, magic):
    """An IDX file (raw or .gz) as a uint8 array: images [n, 28, 28] (2051) or labels [n] (2049)."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = 3 if magic == 2051 else 1
    header = np.frombuffer(data[:4 + 4 * dims], dtype=">u4")
    if header[0] != magic:
        raise SystemExit(f"torch_reference: {path} is not an IDX file of kind {magic}")
    shape = tuple(int(d) for d in header[1:])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(folder):
    def images(name):  # NCHW float32 in [0, 1]
        x = read_idx(f"{folder}/{name}-images-idx3-ubyte", 2051)
        return torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)

    def labels(name):
        return torch.from_numpy(read_idx(f"{folder}/{name}-labels-idx1-ubyte", 2049).astype(np.int64))

    return images("train"), labels("train"), images("t10k"), labels("t10k")


def build(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    if name == "small_cnn":
        return nn.Sequential(
            nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(256, 10))
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10))


def train(model, opt, x, y, order, batch):
    loss = None
    for i in range(0, len(order), batch):
        b = order[i:i + batch]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[b]), y[b])
        loss.backward()
        opt.step()
    return loss.item() if loss is not None else float("nan")


def test_accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        correct = sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
                      for i in range(0, len(x), 1000))
    model.train()
    return correct / len(x)


def bench_model(name, data, args):
    xtr, ytr, xte, yte = data
    torch.manual_seed(args.seed)
    model = build(name)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    order = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(args.seed))
    warm = args.warmup_batches * args.batch
    t0 = time.perf_counter()
    train(model, opt, xtr, ytr, order[:warm], args.batch)
    warmup_s = time.perf_counter() - t0
    n = min(args.limit or len(xtr), len(xtr) - warm)
    timed = order[warm:warm + n]
    # Whole batches per chunk, as the bench times its own repeats.
    per = max(1, n // args.batch // args.repeats) * args.batch
    rates, seconds, loss = [], 0.0, float("nan")
    for r in range(args.repeats):
        chunk = timed[r * per:(r + 1) * per]
        if len(chunk) == 0:
            break
        t0 = time.perf_counter()
        loss = train(model, opt, xtr, ytr, chunk, args.batch)
        dt = time.perf_counter() - t0
        seconds += dt
        rates.append(len(chunk) / dt)
    acc = test_accuracy(model, xte, yte)
    samples = per * len(rates)
    print(f"  {name}: {samples} samples in {seconds:.2f} s after {warm} warm-up samples "
          f"({warmup_s:.2f} s); median of {len(rates)} chunks {statistics.median(rates):,.0f} "
          f"samples/s; loss {loss:.4f}; test accuracy {acc:.4f}", flush=True)
    return {
        "runtime": "pytorch-" + torch.__version__, "threads": torch.get_num_threads(),
        "model": name, "seed": args.seed, "batch": args.batch,
        "params": sum(p.numel() for p in model.parameters()),
        "warmup_samples": warm, "warmup_s": round(warmup_s, 3), "samples": samples,
        "seconds": round(seconds, 3), "chunks": [round(r, 1) for r in rates],
        "samples_per_s": round(statistics.median(rates), 1),
        "samples_per_s_mean": round(samples / seconds, 1),
        "last_loss": round(loss, 4), "acc_1ep": round(acc, 4),
        "changes": CHANGES,
    }


def matmul(threads):
    torch.set_num_threads(threads)
    for n in (512, 1024):
        a, b = torch.rand(n, n), torch.rand(n, n)
        for _ in range(3):
            torch.mm(a, b)
        flop = 2.0 * n ** 3
        reps = max(5, int(2e10 / flop))
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        gflops = flop * reps / (time.perf_counter() - t0) / 1e9
        print(f"matmul {n}^3 float32 (torch.mm), {threads} thread(s): {gflops:.1f} GFLOP/s",
              flush=True)
        print("RESULT " + json.dumps({"runtime": "pytorch-" + torch.__version__, "kind": "matmul",
                                      "n": n, "threads": threads, "gflops": round(gflops, 1)}),
              flush=True)


def parse_args():
    p = argparse.ArgumentParser(
        description="PyTorch reference for deno task bench: training samples/s and accuracy.")
    p.add_argument("--data", default=FASHION_MNIST,
                   help="folder with the four IDX files, raw or .gz (default: %(default)s)")
    p.add_argument("--models", default=",".join(MODEL_NAMES), help="comma-separated: " +
                   ", ".join(MODEL_NAMES))
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--seed", type=int, default=0, help="initialisation, dropout and data order")
    p.add_argument("--warmup-batches", type=int, default=10,
                   help="batches trained before the clock starts (default 10)")
    p.add_argument("--limit", type=int, default=None,
                   help="timed training samples (default: the rest of one epoch)")
    p.add_argument("--repeats", type=int, default=3,
                   help="chunks the timed samples are split into; the median counts (default 3)")
    p.add_argument("--skip-matmul", action="store_true", help="do not time torch.mm")
    p.add_argument("--matmul-only", action="store_true",
                   help="time torch.mm in this process only (OpenBLAS threads = --threads)")
    p.add_argument("--openblas-threads", default="1",
                   help="OPENBLAS_NUM_THREADS for training (default 1; 'default' leaves it)")
    p.add_argument("--keep-malloc", action="store_true", help="keep glibc's malloc thresholds")
    p.add_argument("--keep-openblas-coretype", action="store_true",
                   help="keep OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE from the environment")
    args = p.parse_args()
    models = args.models.split(",")
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown:
        p.error(f"--models: unknown {', '.join(unknown)}; use {', '.join(MODEL_NAMES)}")
    for name in ("batch", "threads", "warmup_batches", "repeats"):
        if getattr(args, name) < (0 if name == "warmup_batches" else 1):
            p.error(f"--{name.replace('_', '-')} is {getattr(args, name)}: too small")
    if args.limit is not None and args.limit < args.batch:
        p.error(f"--limit {args.limit} is less than one batch ({args.batch})")
    args.models = models
    return args


def main():
    args = parse_args()
    print(f"torch {torch.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
          f"torch threads {args.threads}", flush=True)
    if args.matmul_only:
        matmul(args.threads)
        return
    if not args.skip_matmul:
        # Separate processes: OpenBLAS's thread count is fixed when it loads.
        for threads in (2, 1):
            subprocess.run([sys.executable, os.path.abspath(__file__), "--matmul-only",
                            "--threads", str(threads), "--openblas-threads", str(threads)]
                           + [a for a in ("--keep-malloc", "--keep-openblas-coretype")
                              if a in sys.argv], check=True)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    try:
        data = load(args.data)
    except FileNotFoundError as e:
        raise SystemExit(f"torch_reference: {e.filename} is missing; install Debian's "
                         f"dataset-fashion-mnist or pass --data FOLDER")
    print(f"loaded {args.data} in {time.perf_counter() - t0:.2f} s", flush=True)
    for name in args.models:
        print("RESULT " + json.dumps(bench_model(name, data, args)), flush=True)


if __name__ == "__main__":
    main()
