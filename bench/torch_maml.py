"""Times second-order MAML meta-steps on PyTorch's CPU backend, tasks in a loop.

Run by bench/maml.ts with /usr/bin/python3. The steps match the metagrad bench:
sinusoid regression (1-40-40-1 MLP, K = 10 support and 10 query points, 25 tasks,
1 inner step) and Omniglot 5-way 1-shot (4-block conv net with 64 channels and
BatchNorm, 15 queries per class, 32 tasks, 1 and 5 inner steps). Inputs are
random, because the time does not depend on their values. Prints the median
seconds per meta-step (gradient and Adam update) as JSON on stdout.
"""

import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

THREADS = 2


def mlp(params, x):
    x = F.relu(F.linear(x, params[0], params[1]))
    x = F.relu(F.linear(x, params[2], params[3]))
    return F.linear(x, params[4], params[5])


def convnet(params, x):
    for block in range(4):
        w, b, gamma, beta = params[4 * block : 4 * block + 4]
        x = F.conv2d(x, w, b, padding=1)
        x = F.batch_norm(x, None, None, gamma, beta, training=True)
        x = F.max_pool2d(F.relu(x), 2)
    return F.linear(x.flatten(1), params[16], params[17])


def init(shapes):
    return [(torch.randn(s) * 0.1).requires_grad_() for s in shapes]


def sine_case():
    shapes = [(40, 1), (40,), (40, 40), (40,), (1, 40), (1,)]
    tasks = [
        tuple(torch.rand(10, 1) * 10 - 5 for _ in range(4)) for _ in range(25)
    ]
    return shapes, mlp, F.mse_loss, tasks, 0.01


def omniglot_case(meta_batch):
    shapes = []
    for block in range(4):
        shapes += [(64, 1 if block == 0 else 64, 3, 3), (64,), (64,), (64,)]
    shapes += [(5, 64), (5,)]
    labels = torch.arange(5)
    tasks = [
        (torch.rand(5, 1, 28, 28), labels, torch.rand(75, 1, 28, 28), labels.repeat(15))
        for _ in range(meta_batch)
    ]
    return shapes, convnet, F.cross_entropy, tasks, 0.4


def meta_step(params, forward, loss_fn, tasks, inner_lr, steps, optimizer):
    optimizer.zero_grad()
    total = 0
    for sx, sy, qx, qy in tasks:
        fast = params
        for _ in range(steps):
            grads = torch.autograd.grad(loss_fn(forward(fast, sx), sy), fast, create_graph=True)
            fast = [p - inner_lr * g for p, g in zip(fast, grads)]
        total = total + loss_fn(forward(fast, qx), qy)
    (total / len(tasks)).backward()
    optimizer.step()


def median_seconds(case, steps, repetitions):
    shapes, forward, loss_fn, tasks, inner_lr = case
    torch.manual_seed(0)
    params = init(shapes)
    optimizer = torch.optim.Adam(params, lr=1e-3)
    meta_step(params, forward, loss_fn, tasks, inner_lr, steps, optimizer)
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        meta_step(params, forward, loss_fn, tasks, inner_lr, steps, optimizer)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    quick = "--quick" in sys.argv
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    results = {"threads": torch.get_num_threads(), "version": torch.__version__}
    if "--omniglot-only" not in sys.argv:
        results["sine"] = median_seconds(sine_case(), 1, 5 if quick else 20)
    if "--sine-only" in sys.argv:
        json.dump(results, sys.stdout)
        return
    meta_batch = int(sys.argv[sys.argv.index("--meta-batch") + 1]) if "--meta-batch" in sys.argv else 32
    omniglot = omniglot_case(meta_batch)
    results["omniglot1"] = median_seconds(omniglot, 1, 1 if quick else 3)
    results["omniglot5"] = median_seconds(omniglot, 5, 1)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
