#!/usr/bin/env bash
# Sweep-engine throughput, automl vs Optuna 5, side by side in one run.
# Installs Optuna into a venv under the cargo target dir (benchmark only; the product never needs Python).
# Usage: benches/vs-optuna.sh [RANDOM_TRIALS_OPTUNA] [RANDOM_TRIALS_AUTOML] [TPE_TRIALS] [SQLITE_TRIALS]
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
venv="$target/optuna-venv"
n_opt="${1:-10000}"; n_ours="${2:-200000}"; n_tpe="${3:-1000}"; n_sql="${4:-5000}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "optuna==5.0.0"
fi
cargo bench --quiet --bench sweep_speed -- --random "$n_ours" --tpe "$n_tpe" --sqlite "$n_sql" > "$target/sweep_speed.jsonl"
"$venv/bin/python" benches/optuna_speed.py "$n_opt" "$n_tpe" > "$target/optuna_speed.jsonl"
"$venv/bin/python" - "$target/sweep_speed.jsonl" "$target/optuna_speed.jsonl" <<'PY'
import json, sys
rows = list(map(json.loads, open(sys.argv[1])))
ours = {r["sampler"]: r for r in rows if r["system"] == "automl"}
stored = [r for r in rows if r["system"] != "automl"]
theirs = {r["sampler"]: r for r in map(json.loads, open(sys.argv[2]))}
print("| sampler | system | trials | seconds | trials/s | best | speed-up |")
print("|---|---|---:|---:|---:|---:|---:|")
for s in ("random", "tpe"):
    o, t = ours[s], theirs[s]
    for r in (t, o):
        up = o["trials_per_sec"] / t["trials_per_sec"] if r is o else 1.0
        print(f"| {s} | {r['system']} | {r['trials']} | {r['secs']:.3f} | {r['trials_per_sec']:.0f} | {r['best']:.4g} | {up:.1f}x |")
for r in stored:
    up = r["trials_per_sec"] / theirs[r["sampler"]]["trials_per_sec"]
    print(f"| {r['sampler']} | {r['system']} | {r['trials']} | {r['secs']:.3f} | {r['trials_per_sec']:.0f} | {r['best']:.4g} | {up:.1f}x |")
    print(f"SQLite store: {1e6 / r['trials_per_sec']:.0f} us per trial (write + read back)")
PY
