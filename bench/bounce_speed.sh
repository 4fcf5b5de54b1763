#!/bin/sh
# bounce_speed.sh - messages per second of `mailerd bounce parse` against
# Debian's Sisimai (libsisimai-perl), on the same files in the same run.
#
# usage: bench/bounce_speed.sh [ROUNDS]   (MAILERD=path overrides build/mailerd)
# Files: every .eml of the shared corpus (../shared/corpus/bounces/public
# relative to the repository root), each parsed ROUNDS times (default 20) by
# both, each in ONE process (so each pays its start-up once: the whole
# process is timed for both, the same files, the same number of times).
# Prints msgs/s of both and the ratio. Skips with a message when the corpus
# or Sisimai is missing. Twenty rounds keep the run of mailerd long enough
# (a third of a second) that timer and scheduler noise do not swing the
# ratio; five rounds (0.09 s) swung it by a fifth from run to run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
corpus="$root/../shared/corpus/bounces/public"
rounds=${1:-20}
bin=${MAILERD:-$root/build/mailerd}
if [ ! -d "$corpus" ]; then
	echo "bounce_speed: SKIP: no shared bounce corpus"
	exit 0
fi
if ! perl -MSisimai -e 1 2>/dev/null; then
	echo "bounce_speed: SKIP: Sisimai not installed (apt-get install libsisimai-perl)"
	exit 0
fi
list=$(mktemp)
trap 'rm -f "$list"' EXIT
find "$corpus" -name '*.eml' | sort >"$list"
n=$(wc -l <"$list")
total=$((n * rounds))

now() { date +%s.%N; }

# mailerd: all files ROUNDS times on one command line, one process,
# output discarded
files=$(cat "$list")
i=0; args=""
while [ $i -lt "$rounds" ]; do
	args="$args $files"
	i=$((i + 1))
done
t0=$(now)
# shellcheck disable=SC2086
"$bin" bounce parse $args >/dev/null
t1=$(now)

# Sisimai: the same files, ROUNDS times, in one perl process
perl -MSisimai -e '
	my ($list, $rounds) = @ARGV;
	open(my $fh, "<", $list) or die; my @f = <$fh>; chomp @f;
	for (1 .. $rounds) { for my $x (@f) { my $r = Sisimai->make($x); } }
' "$list" "$rounds" 2>/dev/null
t2=$(now)

awk -v n="$total" -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
	m = (b - a); s = (c - b);
	printf "messages parsed: %d each\n", n;
	printf "mailerd: %.3f s, %.0f msgs/s\n", m, n / m;
	printf "sisimai: %.3f s, %.0f msgs/s\n", s, n / s;
	printf "ratio (mailerd/sisimai): %.1fx\n", (n / m) / (n / s);
}'
