#!/usr/bin/env python3
"""PyTorch side of bench/bench_train.py: the same cases as train_bench.cpp.

Usage: torch_train.py CASE THREADS SECONDS [INTEROP]
Thread settings: torch.set_num_threads(THREADS) for ATen; OpenBLAS threads come from the
environment (OPENBLAS_NUM_THREADS), set by the driver.
"""
import json, sys, time

import torch


def rate(fn, seconds):
    for _ in range(3):
        fn()
    calls, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        calls += 1
    return calls / (time.perf_counter() - t0)


def mlp(widths, batch, seconds):
    n = 8192
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, widths[0], generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    layers = []
    for a, b in zip(widths[:-2], widths[1:-1]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(widths[-2], widths[-1]))
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    return rate(epoch_fn(net, opt, x, y, batch), seconds) * n


def epoch_fn(net, opt, x, y, batch):
    """One shuffled epoch of mini-batch steps with cross-entropy, as trusty's Trainer."""
    lossf = torch.nn.CrossEntropyLoss()
    n = len(x)

    def epoch():
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            lossf(net(x[idx]), y[idx]).backward()
            opt.step()

    return epoch


def cnn(seconds, channels_last=False):
    """conv 32 -> pool -> conv 64 -> pool -> dense 128, dropout 0.3, AdamW (examples/mnist_cnn.toml)."""
    n, batch = 2048, 64
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Dropout(0.3), torch.nn.Linear(1600, 128), torch.nn.ReLU(),
        torch.nn.Dropout(0.3), torch.nn.Linear(128, 10))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    return rate(epoch_fn(net, opt, x, y, batch), seconds) * n


def conv3d(seconds):
    """forward + backward of one 3x3x3 convolution on a 64^3 periodic field, 1 channel."""
    x = torch.randn(1, 1, 64, 64, 64, requires_grad=True)
    w = torch.randn(1, 1, 3, 3, 3, requires_grad=True)

    def step():
        xp = torch.nn.functional.pad(x, (1, 1, 1, 1, 1, 1), mode="circular")
        y = torch.nn.functional.conv3d(xp, w)
        y.sum().backward()

    return rate(step, seconds)


def xor_step(seconds):
    net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    x = torch.tensor([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])
    y = torch.tensor([[0.], [1.], [1.], [0.]])

    def step():
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        opt.step()

    return rate(step, seconds)


def main():
    case, threads, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # the same FTZ/DAZ trusty trains with: a fair peer
    if case == "mlp_small":
        r = mlp([784, 128, 64, 10], 64, seconds)
    elif case == "mlp_large":
        r = mlp([784, 512, 256, 10], 128, seconds)
    elif case == "cnn":
        r = cnn(seconds)
    elif case == "conv3d":
        r = conv3d(seconds)
    else:
        r = xor_step(seconds)
    print(json.dumps({"case": case, "threads": threads, "rate": r}))


if __name__ == "__main__":
    main()
