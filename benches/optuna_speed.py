"""Optuna's throughput on the objective of benches/sweep_speed.rs (benchmark only; run by vs-optuna.sh)."""
import json
import sys
import time

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def objective(trial):
    x = trial.suggest_float("x", -10.0, 10.0)
    y = trial.suggest_float("y", -10.0, 10.0)
    return (x - 2.0) ** 2 + (y + 1.0) ** 2


def case(name, sampler, n):
    t0 = time.perf_counter()
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.optimize(objective, n_trials=n)
    secs = time.perf_counter() - t0
    print(json.dumps({"system": f"optuna {optuna.__version__}", "sampler": name, "trials": n,
                      "secs": secs, "trials_per_sec": n / secs, "best": study.best_value}))


n_random = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
n_tpe = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
case("random", optuna.samplers.RandomSampler(seed=1), n_random)
case("tpe", optuna.samplers.TPESampler(seed=1), n_tpe)
