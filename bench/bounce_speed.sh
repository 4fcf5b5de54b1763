#!/bin/sh
# bounce_speed.sh - messages per second of `mailerd bounce parse` against
# Debian's Sisimai (libsisimai-perl), on the same files in the same run.
#
# usage: bench/bounce_speed.sh [ROUNDS [REPEATS]]
#   (MAILERD=path overrides build/mailerd)
# Files: every .eml of the shared corpus (../shared/corpus/bounces/public
# relative to the repository root), each parsed ROUNDS times (default 20) by
# both, each in ONE process (so each pays its start-up once: the whole
# process is timed for both, the same files, the same number of times).
# The pair is run REPEATS times (default 3), alternating, and the ratio
# is taken from each side's median time: a run of mailerd lasts about a
# third of a second, so one scheduler hiccup on a shared machine moved a
# single run's ratio by a fifth (16.8x to 21.2x in five runs in a row).
# Prints each run, both medians in msgs/s, and the ratio. Skips with a
# message when the corpus or Sisimai is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
corpus="$root/../shared/corpus/bounces/public"
rounds=${1:-20}
repeats=${2:-3}
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
times=$(mktemp)
trap 'rm -f "$list" "$times"' EXIT
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
r=0
while [ $r -lt "$repeats" ]; do
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
	echo "$t0 $t1 $t2" >>"$times"
	r=$((r + 1))
done

awk -v n="$total" '
	{ m[NR] = $2 - $1; s[NR] = $3 - $2;
	  printf "run %d: mailerd %.3f s, sisimai %.3f s, ratio %.1fx\n", NR, m[NR], s[NR], s[NR] / m[NR] }
	function median(a, k,    i, j, t) {
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	END {
		mm = median(m, NR); ss = median(s, NR);
		printf "messages parsed: %d each per run, %d runs\n", n, NR;
		printf "mailerd: %.3f s, %.0f msgs/s (median)\n", mm, n / mm;
		printf "sisimai: %.3f s, %.0f msgs/s (median)\n", ss, n / ss;
		printf "ratio (mailerd/sisimai): %.1fx\n", ss / mm;
	}' "$times"
