"""GBDT benchmark, LightGBM side: train LightGBM 4 on the files benches/gbdt.rs wrote, with the
same parameters (255 bins, 31 leaves, learning rate 0.1, 200 rounds, 2 threads, no bagging,
min_data_in_leaf 20) and print one JSON line per dataset: median train / predict seconds over the
repeats and the test metric (binary: ROC AUC; regression: R^2). Benchmark only."""
import json
import statistics
import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np


def auc(score, y):
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    ranks = np.empty(len(s))
    i = 0
    while i < len(s):  # average ranks of ties
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[i : j + 1] = (i + j) / 2 + 1
        i = j + 1
    pos = y[order] > 0.5
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def main(root, repeat, names):
    for d in sorted(Path(root).iterdir()):
        if names and d.name not in names:
            continue
        meta = json.loads((d / "meta.json").read_text())
        load = lambda f: np.loadtxt(d / f, delimiter=",", ndmin=1)
        xtr, xte = load("x_train.csv"), load("x_test.csv")
        ytr, yte = load("y_train.csv"), load("y_test.csv")
        if xtr.ndim == 1:
            xtr, xte = xtr[:, None], xte[:, None]
        reg = meta["task"] == "regression"
        params = {
            "objective": "regression" if reg else "binary",
            "num_leaves": 31,
            "learning_rate": 0.1,
            "max_bin": 255,
            "num_threads": 2,
            "bagging_fraction": 1.0,
            "feature_fraction": 1.0,
            "min_data_in_leaf": 20,
            "min_sum_hessian_in_leaf": 1e-3,
            "verbose": -1,
            "seed": 0,
        }
        fit, pred, score = [], [], None
        for _ in range(repeat):
            t0 = time.perf_counter()
            ds = lgb.Dataset(xtr, ytr, categorical_feature=meta["categorical"] or "auto", free_raw_data=False)
            booster = lgb.train(params, ds, num_boost_round=200)
            fit.append(time.perf_counter() - t0)
            t1 = time.perf_counter()
            p = booster.predict(xte, num_threads=2)
            pred.append(time.perf_counter() - t1)
            if reg:
                score = 1 - ((yte - p) ** 2).sum() / ((yte - yte.mean()) ** 2).sum()
            else:
                score = auc(p, yte)
        print(json.dumps({
            "system": "lightgbm",
            "version": lgb.__version__,
            "dataset": d.name,
            "rows": int(xtr.shape[0]),
            "cols": int(xtr.shape[1]),
            "train_secs": statistics.median(fit),
            "predict_secs": statistics.median(pred),
            "metric": "r2" if reg else "roc_auc",
            "score": float(score),
        }), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[3] else [])
