#!/usr/bin/env bash
# GBDT training and prediction, automl's `gbdt` vs LightGBM 4, side by side in one run, on the
# same numeric input (synthetic 200k x 20 binary, diamonds, telco_churn), same parameters, 2 threads.
# Installs lightgbm into a venv under the cargo target dir (benchmark only; the product never needs Python).
# Usage: benches/vs-lightgbm.sh [REPEATS] [only,these,sets]
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
venv="$target/lightgbm-venv"
repeat="${1:-3}"; only="${2:-}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "lightgbm>=4,<5" numpy
fi
data="$target/gbdt-bench"
args=(--out "$data" --repeat "$repeat")
[ -n "$only" ] && args+=(--only "$only")
cargo bench --quiet --bench gbdt -- "${args[@]}" > "$target/gbdt_ours.jsonl"
"$venv/bin/python" benches/lightgbm_ref.py "$data" "$repeat" "$only" > "$target/gbdt_lightgbm.jsonl"
"$venv/bin/python" - "$target/gbdt_ours.jsonl" "$target/gbdt_lightgbm.jsonl" <<'PY'
import json, sys
ours = [json.loads(l) for l in open(sys.argv[1])]
theirs = {r["dataset"]: r for r in map(json.loads, open(sys.argv[2]))}
print("| dataset | rows x cols | system | train s | predict s | metric | train ratio | predict ratio | metric diff |")
print("|---|---|---|---:|---:|---|---:|---:|---:|")
seen = set()
for o in ours:
    t = theirs.get(o["dataset"])
    if t is None:
        continue
    if o["dataset"] not in seen:
        seen.add(o["dataset"])
        print(f"| {t['dataset']} | {t['rows']} x {t['cols']} | LightGBM {t['version']} | {t['train_secs']:.3f} | {t['predict_secs']:.4f} | {t['metric']} {t['score']:.4f} | 1.00 | 1.00 | |")
    print(f"| {o['dataset']} | {o['rows']} x {o['cols']} | automl gbdt ({o['variant']}) | {o['train_secs']:.3f} | {o['predict_secs']:.4f} | {o['metric']} {o['score']:.4f} | {o['train_secs']/t['train_secs']:.2f} | {o['predict_secs']/t['predict_secs']:.2f} | {o['score']-t['score']:+.4f} |")
PY
