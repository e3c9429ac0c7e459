#!/usr/bin/python3
"""torch_ref.py -- a plain PyTorch CPU implementation of the same network and
training iterations as bench_suite, for comparison (docs/PERFORMANCE.md).

Run with Debian's python3-torch (/usr/bin/python3, not a pyenv python):
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_ref.py --threads 1
    /usr/bin/python3 bench/torch_ref.py --threads 2
    /usr/bin/python3 bench/torch_ref.py --dtype float32   # beside RP_PRECISION_SINGLE

The network is librnnplast's default voltage form (MODEL.md section 1), relu,
alpha = 0.9, n_in = 4, n_out = 2, float64 (--dtype float32: every tensor
float32, the parameters drawn in float64 and rounded, as PyTorch users run by
default; CSV rows then have impl "torch-f32"), MSE loss over all steps
(E = 1/(B T) sum 1/2 |y - y*|^2), gaussian W of gain 0.5:
    h_t = a h_{t-1} + (1-a) (W f(h_{t-1}) + U x_t + b),  y_t = V f(h_t) + c
Timed, as in bench_suite (median of repetitions after a warm-up):
  forward  T steps without gradients (torch.no_grad), per step
  bptt     the forward pass under autograd, the loss, loss.backward()
  eprop    e-prop with symmetric feedback written out with tensor ops
           (MODEL.md 4.4): per step the trace eps_t = a eps_{t-1} + (1-a) f(h_{t-1}),
           the learning signal L_t = e_t V, and G_W += (f'(h_t) L_t)^T eps_t
           (also G_U, G_b, G_V, G_c), no autograd
Prints one line per (N, B, T, kernel) and, with --csv, writes CSV rows.
"""
import argparse
import statistics
import time

import torch

N_IN, N_OUT, ALPHA = 4, 2, 0.9
DTYPE = torch.float64  # --dtype


def make(N, B, T, seed=1):
    p, x, y_star = make64(N, B, T, seed)
    # the same draws in every dtype: float32 runs the rounded float64 values
    return {k: v.to(DTYPE) for k, v in p.items()}, x.to(DTYPE), y_star.to(DTYPE)


def make64(N, B, T, seed=1):
    g = torch.Generator().manual_seed(seed)
    p = {
        "W": 0.5 * torch.randn(N, N, generator=g, dtype=torch.float64) / N**0.5,
        "U": torch.randn(N, N_IN, generator=g, dtype=torch.float64) / N_IN**0.5,
        "b": torch.zeros(N, dtype=torch.float64),
        "V": torch.randn(N_OUT, N, generator=g, dtype=torch.float64) / N**0.5,
        "c": torch.zeros(N_OUT, dtype=torch.float64),
        "h0": 0.5 * torch.randn(N, generator=g, dtype=torch.float64),
    }
    x = torch.randn(T, B, N_IN, generator=g, dtype=torch.float64)
    y_star = 0.5 * torch.randn(T, B, N_OUT, generator=g, dtype=torch.float64)
    return p, x, y_star


def forward(p, x):
    a, gm = ALPHA, 1.0 - ALPHA
    T, B, _ = x.shape
    h = p["h0"].expand(B, -1)
    ys = []
    for t in range(T):
        h = a * h + gm * (torch.relu(h) @ p["W"].T + x[t] @ p["U"].T + p["b"])
        ys.append(torch.relu(h) @ p["V"].T + p["c"])
    return torch.stack(ys)


def run_forward(p, x, y_star):
    with torch.no_grad():
        forward(p, x)


def run_bptt(p, x, y_star):
    for k in ("W", "U", "b", "V", "c"):
        p[k].grad = None
    y = forward(p, x)
    T, B, _ = x.shape
    loss = 0.5 * ((y - y_star) ** 2).sum() / (B * T)
    loss.backward()


def run_eprop(p, x, y_star):
    a, gm = ALPHA, 1.0 - ALPHA
    T, B, _ = x.shape
    N = p["W"].shape[0]
    with torch.no_grad():
        W, U, b, V, c = p["W"], p["U"], p["b"], p["V"], p["c"]
        GW, GU = torch.zeros_like(W), torch.zeros_like(U)
        Gb, GV, Gc = torch.zeros_like(b), torch.zeros_like(V), torch.zeros_like(c)
        h = p["h0"].expand(B, -1).clone()
        eps = torch.zeros(B, N, dtype=DTYPE)
        epsx = torch.zeros(B, N_IN, dtype=DTYPE)
        epsb = 0.0
        for t in range(T):
            fprev = torch.relu(h)
            h = a * h + gm * (fprev @ W.T + x[t] @ U.T + b)
            eps = a * eps + gm * fprev
            epsx = a * epsx + gm * x[t]
            epsb = a * epsb + gm
            f = torch.relu(h)
            e = (f @ V.T + c - y_star[t]) / (B * T)
            GV += e.T @ f
            Gc += e.sum(0)
            L = (e @ V) * (h > 0)
            GW += L.T @ eps
            GU += L.T @ epsx
            Gb += epsb * L.sum(0)


KERNELS = {"forward": run_forward, "bptt": run_bptt, "eprop": run_eprop}


def bench(fn, p, x, y_star, budget=1.0):
    t0 = time.perf_counter()
    fn(p, x, y_star)  # warm-up
    one = time.perf_counter() - t0
    reps = max(5, min(41, int(budget / max(one, 1e-6))))
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(p, x, y_star)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--csv", default=None, help="append CSV rows to this file")
    ap.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    ap.add_argument("--sizes", default=None,
                    help="N:B:T,... (default 64:1:300,128:1:100,128:32:100,512:64:100,1024:1:100)")
    ap.add_argument("--kernels", default="forward,bptt,eprop")
    args = ap.parse_args()
    global DTYPE
    DTYPE = getattr(torch, args.dtype)
    torch.set_num_threads(args.threads)
    sizes = [(64, 1, 300), (128, 1, 100), (128, 32, 100), (512, 64, 100), (1024, 1, 100)]
    if args.sizes:
        sizes = [tuple(int(v) for v in s.split(":")) for s in args.sizes.split(",")]
    kernels = {k: KERNELS[k] for k in args.kernels.split(",")}
    impl = "torch" if args.dtype == "float64" else "torch-f32"
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {args.dtype}, medians")
    print(f"{'kernel':8s} {'N':>5s} {'B':>3s} {'T':>4s} {'per call':>12s} {'per step':>12s}")
    rows = []
    for N, B, T in sizes:
        for name, fn in kernels.items():
            p, x, y_star = make(N, B, T)
            if name == "bptt":
                for k in ("W", "U", "b", "V", "c"):
                    p[k].requires_grad_(True)
            s = bench(fn, p, x, y_star)
            print(f"{name:8s} {N:5d} {B:3d} {T:4d} {s * 1e3:9.3f} ms {s / T * 1e6:9.2f} us", flush=True)
            rows.append((impl, name, N, B, T, s, torch.get_num_threads()))
    if args.csv:
        with open(args.csv, "a") as f:
            if f.tell() == 0:
                f.write("impl,kernel,N,B,T,seconds,threads\n")
            for r in rows:
                f.write("%s,%s,%d,%d,%d,%.6e,%d\n" % r)


if __name__ == "__main__":
    main()
