#!/usr/bin/env python3
"""scikit-learn with mlflow.autolog(): the script logs nothing itself. Under `automl sweep`, the
metrics autolog records (training_accuracy_score, …) and the parameters of the estimator land on
the trial; the script adds one held-out score, the sweep's primary metric."""
import argparse

import mlflow
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

p = argparse.ArgumentParser()
p.add_argument("--C", type=float, required=True)
a = p.parse_args()

mlflow.autolog()
X, y = load_iris(return_X_y=True)
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
model = LogisticRegression(C=a.C, max_iter=500).fit(Xtr, ytr)
mlflow.log_metric("test_accuracy", model.score(Xte, yte))
