#!/bin/sh
# bounce_score.sh - score `mailerd bounce parse` on the shared bounce corpus.
#
# usage: bench/bounce_score.sh [--misses FILE] [--quiet] [--floor-reason N ...]
#   MAILERD=path/to/mailerd overrides the binary (default: build/mailerd).
# The corpus is ../shared/corpus/bounces relative to the repository root,
# found from this script's own location; when it is absent the script says so
# and exits 0 (CI without the shared data skips, it does not fail).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
corpus="$root/../shared/corpus/bounces"
if [ ! -f "$corpus/public/expected.jsonl" ]; then
	echo "bounce_score: SKIP: no shared bounce corpus at ../shared/corpus/bounces"
	exit 0
fi
bin=${MAILERD:-$root/build/mailerd}
if [ ! -x "$bin" ]; then
	echo "bounce_score: no mailerd binary at $bin (build first or set MAILERD)" >&2
	exit 2
fi
exec /usr/bin/python3 "$here/bounce_score.py" --bin "$bin" --corpus "$corpus" "$@"
