#!/usr/bin/env bash
# Peak resident memory of a 30 s `automl run` on a 160k-row x 14-column table (the size issue 12
# measured FLAML on: 444 MiB). The table is built deterministically from ../shared/datasets/diamonds
# (rows resampled, numeric columns jittered by 1 %, three numeric and one 8-level categorical
# column of noise added). Usage: benches/memory_160k.sh [BUDGET_SECONDS] [JOBS]
set -euo pipefail
budget=${1:-30}
jobs=${2:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
src="$here/../shared/datasets/diamonds/train.csv"
[ -f "$src" ] || { echo "error: $src not found (../shared is needed)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$src" "$tmp/big160k.csv" <<'PY'
import csv, random, sys
random.seed(1)
rows = list(csv.reader(open(sys.argv[1])))
head, body = rows[0], rows[1:]
with open(sys.argv[2], "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(head + ["n1", "n2", "n3", "c1"])
    for _ in range(160000):
        r = list(body[random.randrange(len(body))])
        for j, v in enumerate(r):
            try:
                f = float(v)
            except ValueError:
                continue
            if head[j] != "price":
                r[j] = f"{f * (1 + random.gauss(0, 0.01)):.4g}"
        w.writerow(r + [f"{random.random():.5f}", f"{random.gauss(0, 1):.5f}",
                        str(random.randrange(100)), random.choice("abcdefgh")])
PY
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$here/target}/release/automl"
/usr/bin/time -f "wall %e s, peak resident %M KiB" "$bin" run "$tmp/big160k.csv" --target price \
    --time-budget "$budget" --jobs "$jobs" --seed 42 --no-store --quiet --model-out "$tmp/model.automl" \
    --json > "$tmp/run.json"
python3 - "$tmp/run.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"trials {d['trials']}, best {d['best']['learner']} {d['metric']} {d['best']['cv_score']:.4f}, "
      f"ensemble members {len(d['best']['members'])}")
PY
