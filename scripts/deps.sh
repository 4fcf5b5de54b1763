#!/usr/bin/env bash
# Install the Debian 12 packages mailerd needs to build ("build"), or to
# build and run every test and benchmark ("test"). Does nothing when they
# are all present, so it is cheap to call before every run.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libevent-dev libc-ares-dev libsqlite3-dev
	libssl-dev libjansson-dev libcmocka-dev libgmime-3.0-dev libidn2-dev libpq-dev)
test_pkgs=(clang libclang-rt-14-dev dnsmasq dnsutils postfix swaks python3 python3-pytest
	python3-aiosmtpd libsisimai-perl sqlite3 valgrind postgresql procps)

want=("${build_pkgs[@]}")
[ "${1:-build}" = test ] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}" >&2
# Postfix is only a test peer: no system-wide configuration, not started.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
