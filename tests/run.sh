#!/usr/bin/env bash
# tests/run.sh - the one command that runs every test of mailerd.
#
# On a fresh Debian 12 machine (as root) it installs what is missing, then:
#   1. builds the normal build (`make`, build/) and the sanitizer build
#      (`make asan`, build-asan/);
#   2. runs the unit tests (ctest) of both builds;
#   3. runs the end-to-end suite (tests/e2e, pytest with Debian's python3)
#      against build/mailerd, then against build-asan/mailerd;
#   4. runs every fuzz target briefly (tests/fuzz/run.sh);
#   5. runs `bench/relay.sh --quick` when that script exists.
# The e2e fixtures start and stop their own peers (dnsmasq, a Postfix, python
# SMTP servers) on loopback; the trap below removes anything left behind.
#
# Environment:
#   MAILERD_SKIP_INSTALL=1  do not touch packages
#   MAILERD_SKIP_ASAN=1     skip the sanitizer build and its runs
#   MAILERD_PYTEST_ARGS     extra pytest arguments (e.g. "-k relay -x")
# Exit status: non-zero when any step failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PY=/usr/bin/python3 # Debian's interpreter, the one with pytest + aiosmtpd
PKGS=(build-essential cmake pkg-config clang libevent-dev libc-ares-dev
	libsqlite3-dev libssl-dev libjansson-dev libcmocka-dev libgmime-3.0-dev
	libidn2-dev libclang-rt-14-dev dnsmasq postfix swaks python3-pytest
	python3-aiosmtpd libsisimai-perl sqlite3 dnsutils libpq-dev postgresql
	valgrind procps)

declare -a RESULTS=()
FAILED=0
PASSED=0
TESTS_PASSED=0
TESTS_FAILED=0
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mailerd-e2e.XXXXXX")
export MAILERD_E2E_TMP="$E2E_TMP"

# cleanup - stop whatever the e2e fixtures may have left when pytest died
# hard (their finalizers normally do this): every pid recorded under E2E_TMP,
# and every Postfix instance whose config directory lives there.
cleanup() {
	local f pid d
	for d in $(find "$E2E_TMP" -name main.cf -type f -printf '%h\n' 2>/dev/null); do
		postfix -c "$d" stop >/dev/null 2>&1 || true
	done
	for f in $(find "$E2E_TMP" -name '*.harness.pid' -type f 2>/dev/null); do
		pid=$(head -n1 "$f" 2>/dev/null | tr -dc '0-9')
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	done
	rm -rf "$E2E_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

count_tests() {
	# count_tests LOG - add the pytest / ctest counts found in LOG to the
	# totals; prints nothing when LOG has no test runner summary
	local log=$1 line n
	line=$(grep -E '^(=+ )?[0-9]+ (passed|failed|errors?|skipped).* in [0-9.]+s' "$log" | tail -n1)
	if [ -n "$line" ]; then
		n=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || true)
		TESTS_PASSED=$((TESTS_PASSED + ${n:-0}))
		for w in failed error errors; do
			n=$(grep -oE "[0-9]+ $w\b" <<<"$line" | grep -oE '[0-9]+' || true)
			TESTS_FAILED=$((TESTS_FAILED + ${n:-0}))
		done
		return 0
	fi
	line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n1)
	if [ -n "$line" ]; then
		local failed total
		failed=$(sed -E 's/.*, ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
		total=$(sed -E 's/.*tests failed out of ([0-9]+).*/\1/' <<<"$line")
		TESTS_PASSED=$((TESTS_PASSED + total - failed))
		TESTS_FAILED=$((TESTS_FAILED + failed))
		return 0
	fi
	return 1
}

step() {
	# step NAME CMD... - run one step (output also kept for counting),
	# record its result, never abort
	local name=$1
	shift
	echo
	echo "=== $name"
	local t0=$SECONDS rc log="$E2E_TMP/step.log"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	if ! count_tests "$log" && [ "$rc" -ne 0 ]; then
		TESTS_FAILED=$((TESTS_FAILED + 1)) # a failed build counts as a failure
	fi
	if [ "$rc" -eq 0 ]; then
		RESULTS+=("ok    $name ($((SECONDS - t0))s)")
		PASSED=$((PASSED + 1))
		return 0
	fi
	RESULTS+=("FAIL  $name ($((SECONDS - t0))s, exit $rc)")
	FAILED=$((FAILED + 1))
	return 1
}

install_packages() {
	local missing=() p st
	# the project's own installer first (README: both commands use it),
	# then whatever of the list above it does not cover
	if [ -f scripts/deps.sh ]; then
		bash scripts/deps.sh test || return 1
	fi
	for p in "${PKGS[@]}"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$st" = "install ok installed" ] || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		echo "all packages present"
		return 0
	fi
	echo "installing: ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "run as root to install packages" >&2
		return 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	# Postfix must not ask questions nor configure a system mail server:
	# the tests run their own instance with its own config directory.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	echo "postfix postfix/mailname string localhost" | debconf-set-selections
	apt-get update -q || return 1
	apt-get install -y -q --no-install-recommends "${missing[@]}" || return 1
}

run_ctest() {
	ctest --test-dir "$1" --output-on-failure -j 2 --timeout 300
}

run_e2e() {
	# run_e2e BIN [ENV=VAL...]
	local bin=$1
	shift
	# shellcheck disable=SC2086
	env "$@" MAILERD_BIN="$ROOT/$bin" timeout -k 30 1800 \
		"$PY" -m pytest tests/e2e -v -rfEs --durations=10 -p no:cacheprovider \
		${MAILERD_PYTEST_ARGS:-}
}

if [ "${MAILERD_SKIP_INSTALL:-0}" != 1 ]; then
	step "install packages" install_packages || {
		echo "package installation failed" >&2
		exit 1
	}
fi

BUILD_OK=0
ASAN_OK=0
step "build (make)" make && BUILD_OK=1
if [ "${MAILERD_SKIP_ASAN:-0}" != 1 ]; then
	step "sanitizer build (make asan)" make asan && ASAN_OK=1
fi

[ $BUILD_OK = 1 ] && step "unit tests (build)" run_ctest build
[ $ASAN_OK = 1 ] && step "unit tests (build-asan)" run_ctest build-asan
# Every libFuzzer target (clang, ASan+UBSan) for a short run on its seed
# corpus; tests/fuzz/run.sh with a longer time is the real fuzzing.
if [ "${MAILERD_SKIP_FUZZ:-0}" != 1 ]; then
	step "fuzz (${MAILERD_FUZZ_SECONDS:-60} s per target)" timeout -k 10 900 \
		bash tests/fuzz/run.sh "${MAILERD_FUZZ_SECONDS:-60}"
fi

[ $BUILD_OK = 1 ] && step "e2e (build/mailerd)" run_e2e build/mailerd
[ $ASAN_OK = 1 ] && step "e2e (build-asan/mailerd)" run_e2e build-asan/mailerd \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	MAILERD_E2E_SANITIZED=1

if [ -f bench/relay.sh ]; then
	[ $BUILD_OK = 1 ] && step "bench/relay.sh --quick" timeout -k 10 600 bash bench/relay.sh --quick
fi

echo
echo "=== summary"
for r in "${RESULTS[@]}"; do
	echo "  $r"
done
echo "steps: $PASSED ok, $FAILED failed"
echo "$TESTS_PASSED passed, $TESTS_FAILED failed"
[ $FAILED -eq 0 ] && [ $BUILD_OK = 1 ]
