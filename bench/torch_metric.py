"""PyTorch CPU side of bench/metric.ts: one Prototypical Networks training episode
(forward and backward) with the 4-block 64-channel conv net on 1x28x28 inputs,
and the pairwise squared Euclidean distance alone at episode sizes.

Usage: /usr/bin/python3 bench/torch_metric.py WAYS SHOTS QUERIES REPETITIONS
Prints one JSON object: median milliseconds per episode and per distance call.
"""

import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ways, shots, queries, repetitions = (int(v) for v in sys.argv[1:5])
torch.manual_seed(0)


def block(cin):
    return [nn.Conv2d(cin, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2)]


net = nn.Sequential(*block(1), *block(64), *block(64), *block(64), nn.Flatten())
support = torch.rand(ways * shots, 1, 28, 28)
query = torch.rand(ways * queries, 1, 28, 28)
support_y = torch.arange(ways).repeat_interleave(shots)
query_y = torch.arange(ways).repeat_interleave(queries)


def squared_distances(x, y):
    # Spelled out as |x|^2 + |y|^2 - 2 x.y, the form a GEMM-based kernel uses.
    return (x * x).sum(1, keepdim=True) + (y * y).sum(1)[None, :] - 2 * x @ y.T


def episode():
    embeddings = net(torch.cat([support, query]))
    s, q = embeddings[: ways * shots], embeddings[ways * shots :]
    prototypes = s.reshape(ways, shots, -1).mean(1)
    loss = F.cross_entropy(-squared_distances(q, prototypes), query_y)
    net.zero_grad()
    loss.backward()
    return loss.item()


def timed(fn, count):
    times = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


episode()
episode_ms = timed(episode, repetitions)

x = torch.rand(ways * queries, 64)
y = torch.rand(ways, 64)
squared_distances(x, y)
calls = 200
distance_ms = timed(lambda: [squared_distances(x, y) for _ in range(calls)], 3) / calls

print(
    json.dumps(
        {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "episode_ms": episode_ms,
            "distance_ms": distance_ms,
        }
    )
)
