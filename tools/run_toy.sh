#!/usr/bin/env bash
# The toy-motion main job (`make demo`): generate the toy videos (those not
# yet there), train the tiny SpikeVideoFormer with tools/train.py, evaluate the
# last checkpoint with tools/test.py and print the validation top-1.
#
#   bash tools/run_toy.sh [WORK_DIR]         (default work_dirs/demo)
#
# Environment: PYTHON (default .venv/bin/python if present, else python),
# DATA_ROOT (default data/toy_motion), DATA_SEED (the generator's --seed,
# default 0), CONFIG (default the tiny toy config),
# EXTRA_ARGS (appended to both tools' --cfg-options).
set -euo pipefail
cd "$(dirname "$0")/.."

WORK_DIR=${1:-work_dirs/demo}
DATA_ROOT=${DATA_ROOT:-data/toy_motion}
DATA_SEED=${DATA_SEED:-0}
CONFIG=${CONFIG:-configs/recognition/spikevideoformer/spikevideoformer-tiny_1xb8-t8_toy-motion.py}
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python; fi
fi
EXTRA_ARGS=${EXTRA_ARGS:-}
# Threads: the config's AdaptiveThreadsHook picks torch's CPU thread count
# from measured step times, on an idle or a shared machine alike.

START=$(date +%s)
# writes only the clips that are missing (all of them the first time), and
# renders them again if DATA_ROOT holds clips made with other arguments
echo "[run_toy] toy videos in $DATA_ROOT (data seed $DATA_SEED)"
"$PYTHON" tools/data/generate_toy_videos.py --out "$DATA_ROOT" \
    --seed "$DATA_SEED"

DATA_OPTS="train_dataloader.dataset.ann_file=$DATA_ROOT/train.txt \
train_dataloader.dataset.data_prefix.video=$DATA_ROOT/videos \
val_dataloader.dataset.ann_file=$DATA_ROOT/val.txt \
val_dataloader.dataset.data_prefix.video=$DATA_ROOT/videos \
test_dataloader.dataset.ann_file=$DATA_ROOT/val.txt \
test_dataloader.dataset.data_prefix.video=$DATA_ROOT/videos"

echo "[run_toy] training $CONFIG -> $WORK_DIR"
# shellcheck disable=SC2086
"$PYTHON" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" \
    --cfg-options $DATA_OPTS $EXTRA_ARGS

CKPT=$(cat "$WORK_DIR/last_checkpoint")
echo "[run_toy] testing $CKPT"
# shellcheck disable=SC2086
"$PYTHON" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR" \
    --dump "$WORK_DIR/val_predictions.pkl" --cfg-options $DATA_OPTS $EXTRA_ARGS \
    | tee "$WORK_DIR/test_output.txt"

TOP1=$("$PYTHON" - "$WORK_DIR/val_predictions.pkl" <<'PY'
import pickle, sys
with open(sys.argv[1], 'rb') as f:
    preds = pickle.load(f)
hits = sum(int(p['pred_label'].item() == p['gt_label'].item()) for p in preds)
print(f'{100.0 * hits / len(preds):.2f} ({hits}/{len(preds)} clips)')
PY
)
END=$(date +%s)
echo "[run_toy] toy-motion val top-1: $TOP1, wall time $((END - START)) s"
