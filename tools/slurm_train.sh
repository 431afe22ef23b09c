#!/usr/bin/env bash
# Training on a Slurm cluster:
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [args]
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
if [ -z "$PARTITION" ] || [ -z "$JOB_NAME" ] || [ -z "$CONFIG" ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py args]" >&2
    exit 2
fi
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
# PYTHON, else .venv/bin/python, else python; it must import torch
# shellcheck source=tools/find_python.sh
source "$(dirname "$0")/find_python.sh"
mmsvf_find_python "$0" || exit 1
if [ -n "$4" ] && [ "${4#--}" = "$4" ]; then
    WORK_DIR_ARGS="--work-dir $4"
    PY_ARGS=${@:5}
else
    WORK_DIR_ARGS=""
    PY_ARGS=${@:4}
fi

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
srun -p ${PARTITION} \
    --job-name=${JOB_NAME} \
    --gres=gpu:${GPUS_PER_NODE} \
    --ntasks=${GPUS} \
    --ntasks-per-node=${GPUS_PER_NODE} \
    --cpus-per-task=${CPUS_PER_TASK} \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$(dirname "$0")/train.py" "$CONFIG" $WORK_DIR_ARGS \
    --launcher="slurm" ${PY_ARGS}
