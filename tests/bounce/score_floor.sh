#!/bin/sh
# score_floor.sh MAILERD - fail when the bounce parser scores below the
# floor on the shared corpus (bench/bounce_score.sh; skips when the corpus
# is absent). The floors are the scores reached, rounded down: raise them
# when the parser improves, never lower them.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
MAILERD=${1:?usage: score_floor.sh path/to/mailerd}
export MAILERD
exec sh "$here/../../bench/bounce_score.sh" --quiet \
	--floor-recall 100 --floor-precision 100 --floor-reason 99.0 \
	--floor-class 99.5 --floor-status 78.3 --floor-status-rfc 99.2 --floor-not
