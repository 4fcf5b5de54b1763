#!/bin/sh
# bounce_memory.sh - peak memory of `mailerd bounce parse`: one process
# reading the largest corpus message alone, then every corpus message
# ROUNDS times. The parser keeps one message at a time, so the two peaks
# should be close: memory follows the largest message, not the corpus.
#
# usage: bench/bounce_memory.sh [ROUNDS]   (default 10; MAILERD=path overrides
# build/mailerd). The file names ride on the command line, which adds
# about 1 KiB of stack per 20 names to the second figure.
# Skips with a message when the shared corpus is absent.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
corpus="$root/../shared/corpus/bounces/public"
rounds=${1:-10}
bin=${MAILERD:-$root/build/mailerd}
if [ ! -d "$corpus" ]; then
	echo "bounce_memory: SKIP: no shared bounce corpus"
	exit 0
fi
# peak resident set (KiB) of one command: GNU time's %M, from the
# kernel's count for that process alone (package "time")
if [ ! -x /usr/bin/time ]; then
	echo "bounce_memory: SKIP: /usr/bin/time missing (apt-get install time)"
	exit 0
fi
peak() {
	/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1
}
list=$(mktemp)
trap 'rm -f "$list"' EXIT
find "$corpus" -name '*.eml' | sort >"$list"
largest=$(xargs ls -S <"$list" 2>/dev/null | head -1)
files=$(cat "$list")
args=""
i=0
while [ $i -lt "$rounds" ]; do
	args="$args $files"
	i=$((i + 1))
done
one=$(peak "$bin" bounce parse "$largest")
# shellcheck disable=SC2086
all=$(peak "$bin" bounce parse $args)
n=$(($(wc -l <"$list") * rounds))
echo "largest message: $(wc -c <"$largest") bytes"
echo "peak RSS, largest message alone: $one KiB"
echo "peak RSS, $n messages in one process: $all KiB"
