#!/usr/bin/env bash
# Benchmarks of the io layer, measured side by side in one run, on 127.0.0.1
# only, against one `bgupload serve` receiver (release build):
#
#  1. Time: a 1 GiB upload through `bgupload run` vs `curl -F` to the same
#     receiver. Rounds alternate (ABBA) and the medians are compared.
#     Goal: bgupload / curl <= 1.05.
#  2. Memory: peak RSS (`/usr/bin/time -v`) of `bgupload run` sending a
#     4 GiB file vs a 1 MiB file. Goals: ratio <= 1.2, absolute <= 32 MiB.
#
# Source files are sparse (`truncate`), so they take no disk space; the
# receiver writes real bytes, one file at a time, deleted after each upload.
# Everything lives in a temporary directory (BENCH_DIR to choose its parent)
# that is removed at the end.
#
# Usage: scripts/bench-io.sh            (ROUNDS=3 by default)
#        ROUNDS=5 BENCH_DIR=/var/tmp scripts/bench-io.sh
#        STRICT=1 scripts/bench-io.sh   (exit 1 when a goal is missed)
#        BGUPLOAD_BIN=path/to/bgupload scripts/bench-io.sh   (another build)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
PARENT=${BENCH_DIR:-${TMPDIR:-/tmp}}
TIME_GOAL=1.05
RSS_RATIO_GOAL=1.2
RSS_ABS_GOAL_KIB=$((32 * 1024))
# The receiver holds at most one 4 GiB file at a time; keep a margin.
NEEDED_BYTES=$((6 * 1024 * 1024 * 1024))

say() { printf '%s\n' "$*" >&2; }

if [[ ! -x /usr/bin/time ]]; then
    say "installing GNU time (for peak RSS)"
    apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
fi
command -v curl >/dev/null || { say "curl is required"; exit 2; }

if [[ -n ${BGUPLOAD_BIN:-} ]]; then
    BIN=$BGUPLOAD_BIN
else
    say "building bgupload (release)"
    cargo build --release -p bgupload --bin bgupload --quiet
    BIN=$PWD/target/release/bgupload
fi

WORK=$(mktemp -d "$PARENT/bgupload-bench.XXXXXX")
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill -INT "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

available=$(df --output=avail -B1 "$WORK" | tail -n 1 | tr -d ' ')
if (( available < NEEDED_BYTES )); then
    say "not enough space in $WORK: $((available >> 30)) GiB free, $((NEEDED_BYTES >> 30)) GiB needed (set BENCH_DIR)"
    exit 2
fi
say "working in $WORK ($((available >> 30)) GiB free)"

RECEIVED=$WORK/received
"$BIN" serve --dir "$RECEIVED" --port 0 >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
URL=
for _ in $(seq 1 100); do
    URL=$(grep -o 'http://[^ ]*' "$WORK/serve.log" | head -n 1 || true)
    [[ -n $URL ]] && break
    sleep 0.1
done
[[ -n $URL ]] || { say "the receiver did not start: $(cat "$WORK/serve.log")"; exit 1; }
say "receiver: $URL"

FILE_1G=$WORK/one-gib.bin
FILE_4G=$WORK/four-gib.bin
FILE_1M=$WORK/one-mib.bin
truncate -s 1G "$FILE_1G"
truncate -s 4G "$FILE_4G"
head -c 1048576 /dev/urandom >"$FILE_1M"

now() { date +%s.%N; }
# calc EXPRESSION: floating-point arithmetic and comparisons (1 or 0).
calc() { awk "BEGIN { print ($1) }"; }
elapsed() { calc "$2 - $1"; }

# Queues FILE in a fresh data dir; prints the data dir.
queue() {
    local file=$1 data
    data=$(mktemp -d "$WORK/data.XXXXXX")
    "$BIN" --data-dir "$data" add "$file" --url "$URL" >/dev/null
    echo "$data"
}

clear_received() {
    # Wait until the receiver answered, then drop what it stored.
    rm -f "$RECEIVED"/*
}

# timed COMMAND…: runs it, writes "WALL CPU" to $WORK/timed.txt (wall-clock
# seconds, the command's user+sys CPU seconds).
timed() {
    local start end cpu
    start=$(now)
    /usr/bin/time -f '%U %S' -o "$WORK/cpu.txt" "$@" || return 1
    end=$(now)
    cpu=$(awk '{ print $1 + $2 }' "$WORK/cpu.txt")
    echo "$(elapsed "$start" "$end") $cpu" >"$WORK/timed.txt"
}

time_bgupload() {
    local data
    data=$(queue "$FILE_1G")
    timed "$BIN" --data-dir "$data" run --json 2>"$WORK/run.err" >/dev/null \
        || { say "bgupload run failed: $(cat "$WORK/run.err")"; exit 1; }
    rm -rf "$data"
    clear_received
    cat "$WORK/timed.txt"
}

time_curl() {
    local status
    timed curl -sS -o "$WORK/curl.out" -w '%{http_code}' -F "file=@$FILE_1G" "$URL" \
        2>"$WORK/curl.err" >"$WORK/curl.status" \
        || { say "curl failed: $(cat "$WORK/curl.err")"; exit 1; }
    status=$(cat "$WORK/curl.status")
    [[ $status == 201 ]] || { say "curl got HTTP $status"; exit 1; }
    clear_received
    cat "$WORK/timed.txt"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minimum() { sort -g | head -n 1; }

say "warm-up (one upload each); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
time_bgupload >/dev/null
time_curl >/dev/null

ours=(); theirs=(); ours_cpu=(); theirs_cpu=()
for round in $(seq 1 "$ROUNDS"); do
    if (( round % 2 )); then
        read -r wall cpu <<<"$(time_bgupload)"; ours+=("$wall"); ours_cpu+=("$cpu")
        read -r wall cpu <<<"$(time_curl)"; theirs+=("$wall"); theirs_cpu+=("$cpu")
    else
        read -r wall cpu <<<"$(time_curl)"; theirs+=("$wall"); theirs_cpu+=("$cpu")
        read -r wall cpu <<<"$(time_bgupload)"; ours+=("$wall"); ours_cpu+=("$cpu")
    fi
    say "round $round: bgupload ${ours[-1]} s (cpu ${ours_cpu[-1]} s), curl ${theirs[-1]} s (cpu ${theirs_cpu[-1]} s)"
done
ours_median=$(printf '%s\n' "${ours[@]}" | median)
theirs_median=$(printf '%s\n' "${theirs[@]}" | median)
time_ratio=$(calc "$ours_median / $theirs_median")
min_ratio=$(calc "$(printf '%s\n' "${ours[@]}" | minimum) / $(printf '%s\n' "${theirs[@]}" | minimum)")
ours_cpu_median=$(printf '%s\n' "${ours_cpu[@]}" | median)
theirs_cpu_median=$(printf '%s\n' "${theirs_cpu[@]}" | median)

# Peak RSS of `bgupload run` (the whole process) for one upload of FILE.
peak_rss_kib() {
    local data
    data=$(queue "$1")
    /usr/bin/time -v "$BIN" --data-dir "$data" run --json >/dev/null 2>"$WORK/rss.txt" \
        || { say "bgupload run failed: $(cat "$WORK/rss.txt")"; exit 1; }
    rm -rf "$data"
    clear_received
    awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/rss.txt"
}

say "peak RSS: 1 MiB upload"
rss_small=$(peak_rss_kib "$FILE_1M")
say "peak RSS: 4 GiB upload"
rss_large=$(peak_rss_kib "$FILE_4G")
rss_ratio=$(calc "$rss_large / $rss_small")

MISSED=0
# verdict NAME CONDITION: sets NAME to "goal met" or "GOAL MISSED".
verdict() {
    if (( $(calc "$2") )); then
        printf -v "$1" 'goal met'
    else
        printf -v "$1" 'GOAL MISSED'
        MISSED=1
    fi
}
verdict time_verdict "$time_ratio <= $TIME_GOAL"
verdict ratio_verdict "$rss_ratio <= $RSS_RATIO_GOAL"
verdict abs_verdict "$rss_large <= $RSS_ABS_GOAL_KIB"

printf '\n'
printf '1 GiB upload, median of %d: bgupload %.3f s, curl -F %.3f s -> ratio %.3f (goal <= %s: %s); ratio of the fastest runs %.3f\n' \
    "$ROUNDS" "$ours_median" "$theirs_median" "$time_ratio" "$TIME_GOAL" "$time_verdict" "$min_ratio"
printf 'client CPU (user+sys) per 1 GiB, median: bgupload %.2f s, curl %.2f s\n' "$ours_cpu_median" "$theirs_cpu_median"
printf 'peak RSS of bgupload run: 4 GiB file %.1f MiB, 1 MiB file %.1f MiB -> ratio %.3f (goal <= %s: %s); absolute %.1f MiB (goal <= 32 MiB: %s)\n' \
    "$(calc "$rss_large / 1024")" "$(calc "$rss_small / 1024")" "$rss_ratio" "$RSS_RATIO_GOAL" \
    "$ratio_verdict" "$(calc "$rss_large / 1024")" "$abs_verdict"

if [[ ${STRICT:-0} == 1 && $MISSED == 1 ]]; then
    exit 1
fi
