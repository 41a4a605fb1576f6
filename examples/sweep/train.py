#!/usr/bin/env python3
"""A stand-in training loop (standard library only) for `automl sweep`.

The validation loss after epoch e is a deterministic function of the hyperparameters:
    loss(e) = (log10(lr) + 2)^2 / 4 + 0.1 * |layers - 3| + 1 / e  (+ dropout^2 when given)
so the best configuration is known: lr = 0.01, layers = 3, dropout = 0. Each epoch sleeps
--epoch-seconds to stand for training time. Usage:
    train.py --lr LR --layers N [--dropout D] [--epochs E] [--epoch-seconds S] [--tag TEXT]
"""
import argparse
import json
import math
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--layers", type=int, required=True)
p.add_argument("--dropout", type=float, default=0.0)
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--epoch-seconds", type=float, default=0.05)
p.add_argument("--tag", default="")
p.add_argument("--fail-if-layers", type=int, default=-1)
p.add_argument("--hang-if-layers", type=int, default=-1)
a = p.parse_args()

if a.tag:
    print(f"tag={a.tag}")  # echoed verbatim: tests check it arrives as one literal argument
if a.layers == a.fail_if_layers:
    print("diverged: loss is nan", file=sys.stderr)
    sys.exit(1)
if a.layers == a.hang_if_layers:
    time.sleep(3600)

base = (math.log10(a.lr) + 2) ** 2 / 4 + 0.1 * abs(a.layers - 3) + a.dropout ** 2
for epoch in range(1, a.epochs + 1):
    time.sleep(a.epoch_seconds)
    loss = base + 1.0 / epoch
    print(f"epoch {epoch}: training...")
    print(json.dumps({"automl_metric": "val_loss", "value": loss, "step": epoch}), flush=True)
    print(json.dumps({"automl_metric": "train_loss", "value": loss * 0.9, "step": epoch}), flush=True)
