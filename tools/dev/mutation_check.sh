#!/usr/bin/env bash
# Mutation check (mutmut 3, requirements/dev.txt) of the numeric core, one
# package at a time, each against its own tests; prints the kill rate per
# package and lists the surviving mutants. See docs/testing.md.
#
#   bash tools/dev/mutation_check.sh [PACKAGE ...]     # or: make mutation
#
# PACKAGE: neurons attention functional analysis (default: all four).
# Environment:
#   JOBS=N        mutants tested in parallel (default: number of CPUs)
#   SAMPLE=N      test a random sample of N mutants per package (fixed seed,
#                 SEED=0) instead of all of them
#   FRESH=1       forget earlier results (mutmut is incremental otherwise:
#                 a rerun only tests mutants without a result)
#   MUTATION_DIR  scratch folder (default work_dirs/mutation; one subfolder,
#                 with mutmut's mutants/, per package)
#   PYTHON        interpreter with mmsvf and mutmut (default .venv/bin/python)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
PYTHON=$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")
MUTATION_DIR=${MUTATION_DIR:-$REPO/work_dirs/mutation}
JOBS=${JOBS:-$(nproc)}
SAMPLE=${SAMPLE:-}
SEED=${SEED:-0}
MUTMUT=$(dirname "$PYTHON")/mutmut
if [ ! -x "$MUTMUT" ]; then
    echo "mutmut not found next to $PYTHON; install it with" >&2
    echo "  $PYTHON -m pip install -c requirements/constraints.txt -r requirements/dev.txt" >&2
    exit 2
fi

# package -> source folder | test folders (the tests that own the package)
declare -A SRC TESTS
SRC[neurons]=mmsvf/models/neurons
TESTS[neurons]="tests/test_models/test_neurons"
SRC[attention]=mmsvf/models/attention
TESTS[attention]="tests/test_models/test_attention"
SRC[functional]=mmsvf/evaluation/functional
TESTS[functional]="tests/test_evaluation"
SRC[analysis]=mmsvf/analysis
TESTS[analysis]="tests/test_analysis"

PACKAGES=("$@")
[ ${#PACKAGES[@]} -gt 0 ] || PACKAGES=(neurons attention functional analysis)
for pkg in "${PACKAGES[@]}"; do
    [ -n "${SRC[$pkg]:-}" ] || { echo "unknown package $pkg (one of: ${!SRC[*]})" >&2; exit 2; }
done

# one thread per mutant worker: JOBS workers share the cores, and forked
# workers must not inherit a busy OpenMP pool
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
export MMSVF_SHARED_FIXTURES=${MMSVF_SHARED_FIXTURES:-$REPO/../shared/fixtures}

for pkg in "${PACKAGES[@]}"; do
    dir=$MUTATION_DIR/$pkg
    [ -z "${FRESH:-}" ] || rm -rf "$dir"
    mkdir -p "$dir"
    # mutmut works in the current folder: a scratch folder that links the
    # checkout, so mutants/ and its state never land in the work tree
    for p in mmsvf tests tools configs demo pytest.ini; do
        ln -sfn "$REPO/$p" "$dir/$p"
    done
    {
        echo "[mutmut]"
        echo "source_paths=mmsvf"
        # workers fork from a server that only collected the tests: forked
        # from a process that ran them, a worker inherits torch's OpenMP
        # pool (the LIF tests set 3 threads) and hangs in its first
        # parallel region (GNU OpenMP is not fork-safe)
        echo "process_isolation=forkserver"
        echo "only_mutate=${SRC[$pkg]}/*"
        echo "also_copy="
        for p in tools configs demo pytest.ini; do echo "    $p"; done
        echo "pytest_add_cli_args_test_selection="
        for t in ${TESTS[$pkg]}; do echo "    $t"; done
        # torch.compile tests compile again for every mutant (tens of s)
        echo "pytest_add_cli_args="
        echo "    -p"
        echo "    no:cacheprovider"
        echo "    -k"
        echo "    not inductor and not compile"
    } > "$dir/setup.cfg"
    echo "=== $pkg: ${SRC[$pkg]} against ${TESTS[$pkg]}"
    names=()
    : > "$dir/run.log"
    if [ -n "$SAMPLE" ]; then
        # generate the mutants and the test map only (a name no mutant has),
        # then draw the sample
        (cd "$dir" && "$MUTMUT" run --max-children "$JOBS" 'mmsvf.__no_mutant__' > run.log 2>&1) || true
        mapfile -t names < <("$PYTHON" "$REPO/tools/dev/mutation_report.py" "$dir" --sample "$SAMPLE" --seed "$SEED")
    fi
    start=$SECONDS
    if ! (cd "$dir" && "$MUTMUT" run --max-children "$JOBS" "${names[@]}" >> run.log 2>&1); then
        tr '\r' '\n' < "$dir/run.log" | grep -av ' [0-9]*/[0-9]*  ' | tail -40 >&2
        echo "mutmut failed for $pkg (log: $dir/run.log)" >&2
        exit 1
    fi
    echo "    mutmut run: $((SECONDS - start)) s"
    "$PYTHON" "$REPO/tools/dev/mutation_report.py" "$dir" ${names[@]:+--only "${names[@]}"}
done
