"""The reference side of `cargo bench --bench mlp`: the same network as automl's `mlp` learner,
in PyTorch on the CPU, trained on the inputs the Rust side encoded (a folder with meta.json,
x_train.f32, y_train.f64, x_test.f32, y_test.f64). Same architecture (learnable input scale,
3 x 256 NTK layers, SELU / Mish, zero output layer), optimiser (Adam 0.9 / 0.95, lr factors 6 for
the scale and 0.1 for biases), coslog4 schedule, batches of 256 with the last partial one dropped,
label smoothing 0.1, a random fifth held out and the best epoch's weights kept. Prints one JSON
line: mean seconds per epoch (training plus the held-out pass) and the test score."""

import json
import math
import sys
import time

import numpy as np
import torch


def coslog4(t):
    return 0.5 * (1.0 - math.cos(2.0 * math.pi * math.log2(1.0 + 15.0 * t)))


class Net(torch.nn.Module):
    def __init__(self, inputs, hidden, outputs, act, gen):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(inputs))
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        fan_in = inputs
        for i, width in enumerate(hidden + [outputs]):
            last = i == len(hidden)
            w = torch.zeros(fan_in, width) if last else torch.randn(fan_in, width, generator=gen)
            b = torch.zeros(width) if last else torch.randn(width, generator=gen)
            self.weights.append(torch.nn.Parameter(w))
            self.biases.append(torch.nn.Parameter(b))
            fan_in = width
        self.act = act

    def forward(self, x):
        h = x * self.scale
        n = len(self.weights)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = (h @ w) * (1.0 / math.sqrt(w.shape[0])) + b
            if i < n - 1:
                h = self.act(h)
        return h


def main():
    d = sys.argv[1]
    meta = json.load(open(f"{d}/meta.json"))
    torch.set_num_threads(meta["threads"])
    torch.manual_seed(meta["seed"])
    gen = torch.Generator().manual_seed(meta["seed"])
    k = meta["inputs"]
    xtr = torch.from_numpy(np.fromfile(f"{d}/x_train.f32", dtype="<f4").reshape(-1, k))
    xte = torch.from_numpy(np.fromfile(f"{d}/x_test.f32", dtype="<f4").reshape(-1, k))
    ytr = np.fromfile(f"{d}/y_train.f64", dtype="<f8")
    yte = np.fromfile(f"{d}/y_test.f64", dtype="<f8")
    regression = meta["task"] == "regression"
    n = xtr.shape[0]
    perm = torch.randperm(n, generator=gen)
    n_valid = int(n * 0.2) if n >= 10 else 0
    valid, train = perm[:n_valid], perm[n_valid:]
    if regression:
        mean, sd = ytr[train.numpy()].mean(), ytr[train.numpy()].std()
        sd = sd if sd > 0 else 1.0
        y = torch.from_numpy(((ytr - mean) / sd).astype(np.float32)).reshape(-1, 1)
        outputs, act, lr = 1, torch.nn.functional.mish, 0.07
    else:
        y = torch.from_numpy(ytr.astype(np.int64))
        outputs, act, lr = max(meta["classes"], 2), torch.selu, 0.04
    net = Net(k, [256, 256, 256], outputs, act, gen)
    groups = [{"params": [net.scale], "factor": 6.0}]
    groups += [{"params": [w], "factor": 1.0} for w in net.weights]
    groups += [{"params": [b], "factor": 0.1} for b in net.biases]
    opt = torch.optim.Adam(groups, lr=lr, betas=(0.9, 0.95), eps=1e-8)
    batch = min(256, len(train))
    per_epoch = max(len(train) // batch, 1)
    total = per_epoch * meta["epochs"]
    step, times, best = 0, [], None
    for epoch in range(meta["epochs"]):
        t0 = time.perf_counter()
        order = train[torch.randperm(len(train), generator=gen)]
        net.train()
        for b in range(per_epoch):
            idx = order[b * batch:(b + 1) * batch]
            for g in opt.param_groups:
                g["lr"] = lr * coslog4(step / total) * g["factor"]
            step += 1
            out = net(xtr[idx])
            if regression:
                loss = torch.nn.functional.mse_loss(out, y[idx])
            else:
                loss = torch.nn.functional.cross_entropy(out, y[idx], label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            out = net(xtr[valid])
            if regression:
                pred = out[:, 0].double().numpy() * sd + mean
                score = float(np.sqrt(np.mean((pred - ytr[valid.numpy()]) ** 2)))
            else:
                score = float((out.argmax(1) != y[valid]).double().mean())
        if best is None or score <= best[0]:
            best = (score, {k2: v.clone() for k2, v in net.state_dict().items()})
        times.append(time.perf_counter() - t0)
    net.load_state_dict(best[1])
    with torch.no_grad():
        out = net(xte).double().numpy()
    if regression:
        pred = out[:, 0] * sd + mean
        test = 1.0 - np.sum((pred - yte) ** 2) / np.sum((yte - yte.mean()) ** 2)
    else:
        s = out[:, 1] - out[:, 0]
        pos = yte == 1.0
        ranks = np.argsort(np.argsort(s, kind="mergesort"), kind="mergesort") + 1.0
        # Average ranks of ties.
        order = np.argsort(s, kind="mergesort")
        sorted_s = s[order]
        i = 0
        while i < len(s):
            j = i
            while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
                j += 1
            ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
            i = j + 1
        n_pos, n_neg = pos.sum(), (~pos).sum()
        test = (ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    print(json.dumps({"epoch_secs": sum(times) / len(times), "test_score": float(test)}))


if __name__ == "__main__":
    main()
