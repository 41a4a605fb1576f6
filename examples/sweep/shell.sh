#!/bin/sh
# A shell-script trial: reads its parameter from the environment, reports one metric.
x="${AUTOML_PARAM_X:?no parameter x}"
echo "trial ${AUTOML_TRIAL_ID}: x=$x"
awk -v x="$x" 'BEGIN { printf("{\"automl_metric\": \"score\", \"value\": %.6f}\n", -(x - 0.7) * (x - 0.7)) }'
