#!/usr/bin/env bash
# Fuzzing in CI: installs cargo-fuzz when missing, checks the seed corpus
# and replays it without libFuzzer (`cargo test --lib` in fuzz/), builds
# every cargo-fuzz target, then runs each one for a bounded time
# (FUZZ_SECONDS, default 30) from a temporary copy of its committed corpus,
# so the tree stays clean. Exits non-zero when a target crashes; the
# crashing input is kept under fuzz/artifacts/<target>/ (git-ignored).
#
# Stable toolchain, no sanitizer (`-s none`). Long runs: fuzz/README.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${FUZZ_SECONDS:-30}"
# Longest time one input may take before libFuzzer calls it a hang.
input_timeout="${FUZZ_INPUT_TIMEOUT:-20}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-ci: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
cargo fuzz --version

cd "$root/fuzz"
echo "fuzz-ci: format and lints (the fuzz project is outside the workspace)"
cargo fmt -- --check
cargo clippy --all-targets --locked --quiet -- -D warnings
echo "fuzz-ci: seed corpus and replay (cargo test --lib)"
cargo test --lib --locked --quiet

echo "fuzz-ci: building every target"
cargo fuzz build -s none

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p artifacts

failed=()
for target in $(cargo fuzz list); do
    mkdir -p "$work/corpus/$target" "artifacts/$target"
    if [ -d "corpus/$target" ]; then
        cp -R "corpus/$target/." "$work/corpus/$target/"
    fi
    echo "fuzz-ci: $target for ${seconds}s"
    log="$work/$target.log"
    set +e
    cargo fuzz run -s none "$target" "$work/corpus/$target" -- \
        -max_total_time="$seconds" -timeout="$input_timeout" \
        -print_final_stats=1 -artifact_prefix="$root/fuzz/artifacts/$target/" >"$log" 2>&1
    status=$?
    set -e
    grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)' "$log" || true
    if [ "$status" -ne 0 ]; then
        echo "fuzz-ci: $target FAILED (exit $status)"
        grep -E -A12 'panicked at|ERROR: libFuzzer|SUMMARY' "$log" | head -60 || tail -40 "$log"
        grep -E 'Test unit written to' "$log" || true
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz-ci: crashes in: ${failed[*]}"
    exit 1
fi
echo "fuzz-ci: every target ran ${seconds}s without a crash"
