#!/usr/bin/env bash
# run.sh - build the libFuzzer targets (clang, ASan+UBSan) and run each one
# for SECONDS (default 60) on a copy of its seed corpus. A crash leaves its
# input in build-fuzz/crashes/; turn it into a regression seed by copying it
# into tests/fuzz/corpus/<target>/.
#
# Usage: tests/fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
shift || true
make fuzz >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in build-fuzz/tests/fuzz/fuzz_*; do
		[ -x "$f" ] && targets+=("$(basename "$f")")
	done
fi
mkdir -p build-fuzz/crashes
failed=0
for t in "${targets[@]}"; do
	name=${t#fuzz_}
	work=$(mktemp -d)
	[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
	if "build-fuzz/tests/fuzz/$t" -max_total_time="$secs" -max_len=65536 -timeout=10 -print_final_stats=1 \
		-artifact_prefix=build-fuzz/crashes/"$t"- "$work" >"build-fuzz/$t.log" 2>&1; then
		runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "build-fuzz/$t.log" |
			awk '{print $2}' || true)
		echo "fuzz $t: ok (${runs:-?} runs in ${secs}s)"
	else
		echo "fuzz $t: FAILED (see build-fuzz/$t.log and build-fuzz/crashes/)"
		tail -30 "build-fuzz/$t.log"
		failed=$((failed + 1))
	fi
	rm -rf "$work"
done
echo "fuzz: ${#targets[@]} targets, $failed failed"
[ "$failed" -eq 0 ]
