#!/usr/bin/env bash
# Runs every fuzz target at once for SECONDS of wall time each (default 5400,
# which gives each target at least one CPU-hour when three share two cores)
# and writes each target's final statistics and CPU time to fuzz/long-run/.
#
#   bash fuzz/long-run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-5400}"
make fuzz-corpus build/fuzz/fuzz-decode build/fuzz/fuzz-decode_page build/fuzz/fuzz-page_decoder
mkdir -p fuzz/long-run build/fuzz/crashes

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
pids=()
for target in decode decode_page page_decoder; do
	/usr/bin/time -v -o "build/fuzz/long-$target.time" \
		build/fuzz/fuzz-$target -max_total_time="$seconds" -max_len=16384 -timeout=10 \
		-dict=fuzz/json.dict -artifact_prefix="build/fuzz/crashes/long-$target-" \
		-print_final_stats=1 "build/fuzz/corpus/$target" >"build/fuzz/long-$target.log" 2>&1 &
	pids+=("$!")
done

status=0
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || status=1
done

for target in decode decode_page page_decoder; do
	{
		echo "target: $target"
		echo "command: build/fuzz/fuzz-$target -max_total_time=$seconds -max_len=16384 -timeout=10 -dict=fuzz/json.dict"
		sed -n 's/^\s*\(User time (seconds)\|System time (seconds)\|Elapsed (wall clock) time.*\|Maximum resident set size (kbytes)\|Exit status\): */\1: /p' \
			"build/fuzz/long-$target.time"
		grep -E '^(Done|#[0-9]+[[:space:]]+DONE|stat::)' "build/fuzz/long-$target.log" || true
		grep -E 'ERROR|runtime error|SUMMARY' "build/fuzz/long-$target.log" || echo "no crash, leak or sanitizer report"
	} >"fuzz/long-run/$target.txt"
done
exit $status
