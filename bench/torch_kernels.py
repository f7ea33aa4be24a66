"""Times the bench's matmul and conv2d shapes on PyTorch's CPU backend.

Run by bench/kernels.ts with /usr/bin/python3 when torch imports. Reads the
shapes as JSON on stdin and prints the median milliseconds as JSON on stdout.
"""

import json
import statistics
import sys
import time

import torch


def median_ms(fn, repetitions):
    fn()
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    request = json.load(sys.stdin)
    torch.manual_seed(0)
    results = {"threads": torch.get_num_threads(), "version": torch.__version__}

    n = request["matmul"]
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    results["matmul"] = median_ms(lambda: a @ b, request["repetitions"])

    conv = []
    for layer in request["conv"]:
        x = torch.randn(*layer["x"], requires_grad=True)
        w = torch.randn(*layer["w"], requires_grad=True)
        padding = layer["padding"]
        y = torch.nn.functional.conv2d(x, w, padding=padding)
        g = torch.randn_like(y)
        with torch.no_grad():
            forward = median_ms(
                lambda: torch.nn.functional.conv2d(x, w, padding=padding),
                request["repetitions"],
            )
        input_grad = median_ms(
            lambda: torch.autograd.grad(y, x, g, retain_graph=True), request["repetitions"]
        )
        weight_grad = median_ms(
            lambda: torch.autograd.grad(y, w, g, retain_graph=True), request["repetitions"]
        )
        conv.append({"forward": forward, "inputGrad": input_grad, "weightGrad": weight_grad})
    results["conv"] = conv
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
