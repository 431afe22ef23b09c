#!/usr/bin/env bash
# Distributed testing with torchrun:
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args]
# Without CUDA the processes use gloo (see tools/dist_train.sh).
set -e
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
if [ -z "$CONFIG" ] || [ -z "$CHECKPOINT" ] || [ -z "$GPUS" ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [test.py args]" >&2
    exit 2
fi
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
# PYTHON, else .venv/bin/python, else python; it must import torch
# shellcheck source=tools/find_python.sh
source "$(dirname "$0")/find_python.sh"
mmsvf_find_python "$0" || exit 1
# Rendezvous: one node and no PORT given -> torchrun's c10d rendezvous on
# localhost:0, whose store binds a free port itself (no fixed 29500 to collide
# with another run, no pick-then-bind race). Several nodes or PORT set -> the
# static rendezvous on MASTER_ADDR:PORT (default 29500), as before.
if [ "$NNODES" = 1 ] && [ -z "$PORT" ]; then
    RDZV=()
else
    RDZV=(--master_addr="$MASTER_ADDR" --master_port="${PORT:-29500}")
fi

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --nproc_per_node=$GPUS \
    "${RDZV[@]}" \
    "$(dirname "$0")/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
