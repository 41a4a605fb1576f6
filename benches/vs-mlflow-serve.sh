#!/usr/bin/env bash
# Online serving and batch scoring side by side with `mlflow models serve` on an equivalent
# LightGBM model (default LGBMClassifier vs automl's gbdt at its default point), same data
# (datasets/breast_cancer), same request bodies (MLflow's dataframe_split to /invocations), same
# load generator (benches/serve_load.rs), one run. Prints p50/p99 latency of 1-row requests at
# 1k and 5k requests/s, rows/s of 1,000-row requests, each server's resident memory, and batch
# scoring rows/s of a 1M-row file.
# The venv (mlflow, lightgbm) lives under the cargo target dir: benchmark only, the product never
# needs Python.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$HOME/.cache/automl-target}"
export CARGO_TARGET_DIR="$target"
venv="${MLFLOW_BENCH_VENV:-$target/mlflow-serve-venv}"
if ! "$venv/bin/python" -c "import mlflow, lightgbm, pandas" >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "mlflow==3.17.2" "lightgbm>=4,<5" pandas scikit-learn
fi
# mlflow starts uvicorn from PATH.
export PATH="$venv/bin:$PATH"
cargo build --release --quiet
cargo bench --bench serve_load --no-run --quiet 2>/dev/null
load=$(ls -t "$target"/release/deps/serve_load-* | grep -v '\.d$' | head -1)
A="$target/release/automl"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
data=datasets/breast_cancer
seconds="${SECONDS_PER_STEP:-8}"

# The models.
"$A" run "$data/train.csv" --target diagnosis --learners gbdt --max-trials 1 --ensemble none \
  --workspace "$work/ws" --register bc -q --json >/dev/null
"$A" endpoints create bc --auth key --workspace "$work/ws" >/dev/null
"$A" deployments create bc --name blue --model bc --workspace "$work/ws" >/dev/null
key=$("$A" endpoints keys bc --workspace "$work/ws" --json | "$venv/bin/python" -c "import json,sys; print(json.load(sys.stdin)['primary'])")
"$venv/bin/python" - "$data" "$work" <<'PY'
import json, sys
import lightgbm, mlflow.lightgbm, pandas as pd
data, work = sys.argv[1], sys.argv[2]
tr = pd.read_csv(f"{data}/train.csv")
X, y = tr.drop(columns=["diagnosis"]), tr["diagnosis"]
m = lightgbm.LGBMClassifier(verbose=-1).fit(X, y)
mlflow.lightgbm.save_model(m, f"{work}/lgbm")
te = pd.read_csv(f"{data}/test.csv").drop(columns=["diagnosis"])
one = {"dataframe_split": {"columns": list(te.columns), "data": te.iloc[:1].values.tolist()}}
rows = pd.concat([te] * (1000 // len(te) + 1)).iloc[:1000]
many = {"dataframe_split": {"columns": list(te.columns), "data": rows.values.tolist()}}
json.dump(one, open(f"{work}/one.json", "w"))
json.dump(many, open(f"{work}/many.json", "w"))
big = pd.concat([te] * (1_000_000 // len(te) + 1)).iloc[:1_000_000]
big.to_csv(f"{work}/big.csv", index=False)
PY

# The servers.
"$A" serve --port 18080 --workspace "$work/ws" >/dev/null 2>&1 & pids+=($!); ours=$!
(cd "$work" && exec "$venv/bin/mlflow" models serve -m "$work/lgbm" -p 18081 -h 127.0.0.1 --env-manager local >"$work/mlflow.log" 2>&1) & pids+=($!)
for i in $(seq 1 120); do
  curl -sf http://127.0.0.1:18081/ping >/dev/null 2>&1 && curl -sf http://127.0.0.1:18080/health >/dev/null 2>&1 && break
  sleep 0.5
done
if ! curl -sf http://127.0.0.1:18081/ping >/dev/null 2>&1; then
  echo "mlflow models serve did not start:" >&2; tail -20 "$work/mlflow.log" >&2; exit 1
fi
rss() { ps -o rss= -p "$1" 2>/dev/null | awk '{printf "%.0f", $1/1024}'; }
tree_rss() { local t=0; for p in $(pgrep -f "$1"); do t=$((t + $(ps -o rss= -p "$p" | tr -d ' '))); done; echo $((t / 1024)); }
run() { "$load" --url "$1" --body "$2" --seconds "$seconds" "${@:3}"; }
U="http://127.0.0.1:18080/endpoints/bc/invocations"
M="http://127.0.0.1:18081/invocations"
run "$U" "$work/one.json" --key "$key" --rate 200 >/dev/null   # warm up
run "$M" "$work/one.json" --rate 200 >/dev/null
echo "| measure | automl serve | mlflow models serve | ratio |"
echo "|---|---:|---:|---:|"
for r in 1000 5000; do
  a=$(run "$U" "$work/one.json" --key "$key" --rate "$r")
  b=$(run "$M" "$work/one.json" --rate "$r")
  for f in p50_ms p99_ms rate; do
    x=$(echo "$a" | "$venv/bin/python" -c "import json,sys; print(json.load(sys.stdin)['$f'])")
    y=$(echo "$b" | "$venv/bin/python" -c "import json,sys; print(json.load(sys.stdin)['$f'])")
    echo "| 1-row, $r req/s offered: $f | $x | $y | |"
  done
done
a=$(run "$U" "$work/one.json" --key "$key" --closed 4)
b=$(run "$M" "$work/one.json" --closed 4)
x=$(echo "$a" | "$venv/bin/python" -c "import json,sys; print(round(json.load(sys.stdin)['rate']))")
y=$(echo "$b" | "$venv/bin/python" -c "import json,sys; print(round(json.load(sys.stdin)['rate']))")
echo "| 1-row requests, 4 connections: most requests/s | $x | $y | $("$venv/bin/python" -c "print(f'{$x/$y:.1f}x' if $y else '-')") |"
a=$(run "$U" "$work/many.json" --key "$key" --closed 4)
b=$(run "$M" "$work/many.json" --closed 4)
x=$(echo "$a" | "$venv/bin/python" -c "import json,sys; print(round(json.load(sys.stdin)['rate']*1000))")
y=$(echo "$b" | "$venv/bin/python" -c "import json,sys; print(round(json.load(sys.stdin)['rate']*1000))")
echo "| 1,000-row requests, 4 connections: rows/s | $x | $y | $("$venv/bin/python" -c "print(f'{$x/$y:.1f}x' if $y else '-')") |"
echo "| resident memory after the load, MiB | $(rss "$ours") | $(tree_rss 'mlflow models serve|scoring_server|uvicorn') | |"
t0=$(date +%s.%N)
"$A" batch-score bc --input "$work/big.csv" --output "$work/batch" --workspace "$work/ws" --json >/dev/null
t1=$(date +%s.%N)
"$venv/bin/mlflow" models predict -m "$work/lgbm" -i "$work/big.csv" -t csv -o "$work/mlflow-pred.json" --env-manager local >/dev/null 2>&1
t2=$(date +%s.%N)
[ -s "$work/mlflow-pred.json" ] || { echo "mlflow models predict wrote nothing" >&2; exit 1; }
"$venv/bin/python" -c "a=$t1-$t0; b=$t2-$t1; print(f'| batch scoring 1M rows (CSV): rows/s | {1e6/a:,.0f} | {1e6/b:,.0f} (mlflow models predict) | {b/a:.1f}x |')"
