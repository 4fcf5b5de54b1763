#!/usr/bin/env bash
# Build mailerd and run it on its embedded defaults: SMTP on
# 127.0.0.1:2525, spool in ./var/spool, SQLite store ./var/mailerd.db,
# events in ./var/events.jsonl. Extra arguments go to `mailerd serve`
# (e.g. -o dns_servers=127.0.0.1:5353 or -c mailerd.conf).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
make
exec build/mailerd serve "$@"
