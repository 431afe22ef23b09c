#!/usr/bin/env bash
# Sourced by tools/dist_train.sh, dist_test.sh and slurm_train.sh:
#   source "$(dirname "$0")/find_python.sh" && mmsvf_find_python "$0"
# sets PYTHON to the interpreter that runs the tools:
#   PYTHON, when set; else the project's .venv/bin/python (what `make install`
#   creates and `make` uses) when present; else `python` from PATH,
# and fails with a clear message when that interpreter cannot import torch
# (e.g. a system python picked because the venv is not activated).
mmsvf_find_python() {
    local caller=$1 root err
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    if [ -z "${PYTHON:-}" ]; then
        if [ -x "$root/.venv/bin/python" ]; then
            PYTHON="$root/.venv/bin/python"
        else
            PYTHON=python
        fi
    fi
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        echo "$caller: Python interpreter '$PYTHON' not found." \
             "Set PYTHON=/path/to/python, or run 'make install' (creates" \
             "$root/.venv)." >&2
        return 1
    fi
    if ! err=$("$PYTHON" -c 'import torch' 2>&1); then
        echo "$caller: '$PYTHON' ($(command -v "$PYTHON")) cannot import" \
             "torch: $(printf '%s\n' "$err" | tail -n 1)" >&2
        echo "  Expected the project's environment: activate it, run" \
             "'make install' (creates $root/.venv, used automatically), or" \
             "set PYTHON=/path/to/python." >&2
        return 1
    fi
    export PYTHON
}
