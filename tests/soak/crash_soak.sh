#!/usr/bin/env bash
# crash_soak.sh - the crash consistency test of tests/e2e, long: 1000 kills
# (SIGKILL at random moments and at every failpoint) of a `mailerd serve`
# receiving a steady stream of messages, then the drain and the count
# (lost must be 0, every duplicate explained by a kill). Not run in CI;
# 1000 kills took about 7 minutes with the normal build (2 cores).
#
# Usage: tests/soak/crash_soak.sh [KILLS] [SEED]
#   MAILERD_BIN   the binary (default build/mailerd; run `make` first)
# Prints the figures line ("crash consistency: ... lost 0, duplicated N").
# Runs as root like the e2e suite (it starts the same peers: dnsmasq,
# a Postfix, python SMTP servers, all on loopback).
set -euo pipefail
cd "$(dirname "$0")/../.."
kills=${1:-1000}
seed=${2:-$RANDOM$RANDOM}
export MAILERD_CRASH_KILLS=$kills
export MAILERD_CRASH_SEED=$seed
# about 0.7 s per kill, with room to spare
export MAILERD_CRASH_BUDGET=$((kills * 3))
exec timeout -k 30 $((kills * 4 + 600)) /usr/bin/python3 -m pytest \
	tests/e2e/test_crash_consistency.py -s -v -p no:cacheprovider
