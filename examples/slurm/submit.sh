#!/usr/bin/env bash
# Record an `automl run` for workers in a PostgreSQL workspace, then start N workers as one
# Slurm array job (one worker per array task). Usage:
#   AUTOML_WORKSPACE=postgres://automl@db-host:5432/automl PGPASSWORD=... \
#     examples/slurm/submit.sh TRAIN.csv TARGET [WORKERS] [extra automl run flags...]
# At most --max-concurrent trials (default 8) run at once across all workers: it is also the
# reproducibility window. Give --max-concurrent >= WORKERS x cpus-per-task to keep every core busy.
set -euo pipefail
train="${1:?usage: submit.sh TRAIN.csv TARGET [WORKERS] [automl run flags...]}"
target="${2:?usage: submit.sh TRAIN.csv TARGET [WORKERS] [automl run flags...]}"
shift 2
workers=4
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  workers="$1"
  shift
fi
: "${AUTOML_WORKSPACE:?set AUTOML_WORKSPACE to the postgres:// URL of the shared workspace}"
here="$(cd "$(dirname "$0")" && pwd)"
# The run and its training data go into the database; this prints the run id.
run=$(automl run "$train" --target "$target" --workers-only --json "$@" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["run_id"])')
echo "recorded run $run; starting $workers workers"
sbatch --array="1-$workers" --export=ALL,AUTOML_RUN="$run" "$here/worker.sbatch"
