#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded number of runs (and at most SECONDS) over its seed
# corpus (tests/fuzz/corpus/NAME,
# the regression inputs in tests/fuzz/regressions/NAME, and, when BULWARK_CONFORMANCE_DIR is
# set, the conformance inputs read from there). New inputs go to a temporary directory, never
# into the source tree. A crash fails the test and leaves its input in build-test/fuzz-crashes/
# to be added to tests/fuzz/regressions/NAME. The run count goes to stdout and to
# fuzz-summary.txt beside the binary.
# The seed is fixed (BULWARK_FUZZ_SEED, default 1), so a run is reproducible: what passes here
# passes in CI. Set another seed, or more runs, to explore further by hand:
#   BULWARK_FUZZ_SEED=$RANDOM BULWARK_FUZZ_RUNS=1000000 tests/fuzz/run_fuzzer.sh …
#   run_fuzzer.sh BINARY NAME SECONDS MAX_LEN SOURCE_DIR RUNS
set -euo pipefail
bin=$1 name=$2 seconds=$3 max_len=$4 src=$5 runs=${BULWARK_FUZZ_RUNS:-$6}
seed=${BULWARK_FUZZ_SEED:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
crashes="$(dirname "$bin")/fuzz-crashes/$name"
mkdir -p "$crashes"
seeds=("$src/tests/fuzz/corpus/$name")
[[ -d "$src/tests/fuzz/regressions/$name" ]] && seeds+=("$src/tests/fuzz/regressions/$name")
if [[ -n "${BULWARK_CONFORMANCE_DIR:-}" ]]; then
  case "$name" in
    layer | decompress) seeds+=("$BULWARK_CONFORMANCE_DIR/go-containerregistry" "$BULWARK_CONFORMANCE_DIR/dockle") ;;
    manifest) seeds+=("$BULWARK_CONFORMANCE_DIR/containers-image" "$BULWARK_CONFORMANCE_DIR/image-spec") ;;
  esac
fi
set +e
"$bin" -seed="$seed" -runs="$runs" -max_total_time="$seconds" -max_len="$max_len" \
  -rss_limit_mb=2048 -timeout=20 \
  -artifact_prefix="$crashes/" -print_final_stats=1 "$work" "${seeds[@]}" >"$work/log" 2>&1
rc=$?
set -e
done_runs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$work/log" | tail -1 || true)
line="fuzz $name (seed $seed): ${done_runs:-no run count} (exit $rc)"
echo "$line"
echo "$line" >>"$(dirname "$bin")/fuzz-summary.txt"
if ((rc != 0)); then
  tail -60 "$work/log"
  exit 1
fi
