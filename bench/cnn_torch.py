"""PyTorch reference for `npm run bench`'s CNN section: the same bias-free net and full-batch step.

An outside yardstick, not a dependency: bench/bench.ts runs this file only if /usr/bin/python3
imports torch. It reads commands from stdin, one per line, "N THREADS MILLISECONDS", and answers
each with one JSON line {"N", "threads", "steps", "msPerStep", "medianMs"} after stepping for at
least MILLISECONDS of wall time, so that the bench can interleave its rounds with tfjs's.

The net: 28x28x1 -> conv3x3x8 -> ReLU -> avgpool2 -> conv3x3x16 -> ReLU -> avgpool2 -> dense,
'valid', no biases. The step: forward, exp loss in log space (log L = logsumexp(-y f)), backward,
W <- W - lr * grad; the same work as NetTrainer.step() minus its host-side float64 bookkeeping.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F


def make(n, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=g)
    y = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    w = [
        (torch.randn(8, 1, 3, 3, generator=g) / 3).requires_grad_(),
        (torch.randn(16, 8, 3, 3, generator=g) / (72 ** 0.5)).requires_grad_(),
        (torch.randn(1, 400, generator=g) / 20).requires_grad_(),
    ]
    return x, y, w


def step(x, y, w, lr=1e-3):
    h = F.avg_pool2d(F.relu(F.conv2d(x, w[0])), 2)
    h = F.avg_pool2d(F.relu(F.conv2d(h, w[1])), 2)
    f = h.flatten(1) @ w[2].t()
    log_loss = torch.logsumexp(-y * f[:, 0], 0)
    grads = torch.autograd.grad(log_loss, w)
    with torch.no_grad():
        for p, g in zip(w, grads):
            p -= lr * g
    return float(log_loss)


def main():
    sets = {}
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        n, threads, ms = int(parts[0]), int(parts[1]), float(parts[2])
        torch.set_num_threads(threads)
        if n not in sets:
            sets[n] = make(n)
            step(*sets[n])  # first call allocates
        x, y, w = sets[n]
        times = []
        start = time.perf_counter()
        while True:
            t0 = time.perf_counter()
            step(x, y, w)
            times.append((time.perf_counter() - t0) * 1000)
            if (time.perf_counter() - start) * 1000 >= ms and len(times) >= 2:
                break
        times.sort()
        print(json.dumps({"N": n, "threads": threads, "steps": len(times), "msPerStep": sum(times) / len(times), "medianMs": times[len(times) // 2]}), flush=True)


if __name__ == "__main__":
    print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
    main()
