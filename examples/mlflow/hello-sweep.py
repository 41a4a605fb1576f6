#!/usr/bin/env python3
"""A training script that logs only through MLflow, the way Azure ML's sweep examples do: it
prints no metric line. Under `automl sweep` each trial's MLFLOW_* variables point the MLflow
client at the sweep's own endpoint, so what it logs lands on its trial.

The validation loss after epoch e is a deterministic function of the hyperparameters:
    loss(e) = (log10(lr) + 2)^2 / 4 + 0.1 * |layers - 3| + 1 / e
so the best configuration is known: lr = 0.01, layers = 3.
"""
import argparse
import math
import os
import tempfile
import time

import mlflow

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--layers", type=int, required=True)
p.add_argument("--epochs", type=int, default=8)
p.add_argument("--epoch-seconds", type=float, default=0.05)
a = p.parse_args()

mlflow.log_param("lr", a.lr)
mlflow.log_param("layers", a.layers)
mlflow.set_tag("script", "hello-sweep")
base = (math.log10(a.lr) + 2) ** 2 / 4 + 0.1 * abs(a.layers - 3)
for epoch in range(1, a.epochs + 1):
    time.sleep(a.epoch_seconds)
    loss = base + 1.0 / epoch
    mlflow.log_metric("val_loss", loss, step=epoch)
    mlflow.log_metric("train_loss", loss * 0.9, step=epoch)
out = os.path.join(tempfile.mkdtemp(), "summary.txt")
with open(out, "w") as f:
    f.write(f"lr={a.lr} layers={a.layers} final val_loss={loss:.4f}\n")
mlflow.log_artifact(out)
