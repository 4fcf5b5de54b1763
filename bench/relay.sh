#!/usr/bin/env bash
# relay.sh - relay throughput of mailerd against Postfix, measured in the
# same run on the same machine.
#
#   smtp-source (20 sessions, 5 KB messages) -> MTA on loopback -> smtp-sink
#
# For each MTA it reports two figures:
#   accept  messages/s from the first connection until smtp-source got the
#           last 250 (every 250 means "on disk": both MTAs fsync first)
#   relay   messages/s until the sink has received every message
# and the ratio mailerd/Postfix. Postfix runs from a config directory this
# script writes, with its default durable queue, on its own loopback port.
#
# Usage: bench/relay.sh [--quick] [-n MESSAGES] [-s SESSIONS]
#   --quick   300 messages (what CI runs so the script cannot rot)
# Results are appended to bench/RESULTS.md unless --no-record is given.
set -euo pipefail
cd "$(dirname "$0")/.."

N=2000
SESSIONS=20
SIZE=5120
RECORD=1
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) N=300 ;;
	-n) N="$2"; shift ;;
	-s) SESSIONS="$2"; shift ;;
	--no-record) RECORD=0 ;;
	*) echo "usage: $0 [--quick] [-n MESSAGES] [-s SESSIONS] [--no-record]" >&2; exit 2 ;;
	esac
	shift
done

MAILERD=${MAILERD_BIN:-build/mailerd}
[ -x "$MAILERD" ] || { echo "relay.sh: $MAILERD not built (run make)" >&2; exit 1; }
for tool in smtp-source smtp-sink postfix; do
	command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
		{ echo "relay.sh: $tool missing (scripts/deps.sh test installs it)" >&2; exit 1; }
done
export PATH="$PATH:/usr/sbin"

work=$(mktemp -d)
# Postfix daemons run as the postfix user and must reach their queue.
chmod 755 "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	# smtp-sink hands its socket to a child when it drops privileges; the
	# pattern names this run's own temporary folder, so only ours match.
	pkill -f -- "-d $work/sink-" 2>/dev/null || true
	[ -f "$work/postfix/etc/main.cf" ] && postfix -c "$work/postfix/etc" stop >/dev/null 2>&1 || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# free_port - a loopback TCP port nobody listens on
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT - until something accepts connections there (10 s)
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "relay.sh: nothing listens on port $1" >&2
	return 1
}

# start_sink DIR - smtp-sink writing one file per message into DIR
start_sink() {
	local dir=$1 port
	port=$(free_port)
	mkdir -p "$dir"
	chmod 777 "$dir"
	smtp-sink -u nobody -d "$dir/%H%M%S." "127.0.0.1:$port" 256 >/dev/null 2>&1 &
	pids+=($!)
	wait_port "$port"
	echo "$port"
}

# wait_count DIR N - until DIR holds N files; prints the time in seconds
wait_count() {
	local dir=$1 want=$2 deadline=$((SECONDS + 600))
	while [ "$(find "$dir" -type f | wc -l)" -lt "$want" ]; do
		[ $SECONDS -lt $deadline ] || { echo "relay.sh: only $(find "$dir" -type f | wc -l) of $want arrived" >&2; return 1; }
		sleep 0.05
	done
}

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }

# run_source PORT - smtp-source against the MTA; returns when all got 250
run_source() {
	smtp-source -s "$SESSIONS" -l "$SIZE" -m "$N" -c -f sender@bench.test \
		-t rcpt@sink.bench.test "127.0.0.1:$1" >/dev/null
}

# ---- mailerd ------------------------------------------------------------
sink_port=$(start_sink "$work/sink-mailerd")
m_port=$(free_port)
mkdir -p "$work/mailerd"
"$MAILERD" serve -o listen="127.0.0.1:$m_port" -o spool_dir="$work/mailerd/spool" \
	-o state_db="sqlite:$work/mailerd/mailerd.db" -o event_log="$work/mailerd/events.jsonl" \
	-o transport_map="sink.bench.test=[127.0.0.1]:$sink_port" -o myhostname=mailerd.bench.test \
	-o log_level=warn -o dns_servers=127.0.0.1:9 2>"$work/mailerd/log" &
pids+=($!)
wait_port "$m_port"
t0=$(now)
run_source "$m_port"
t1=$(now)
wait_count "$work/sink-mailerd" "$N"
t2=$(now)
m_accept=$(rate "$N" "$t0" "$t1")
m_relay=$(rate "$N" "$t0" "$t2")

# ---- Postfix --------------------------------------------------------------
sink2_port=$(start_sink "$work/sink-postfix")
p_port=$(free_port)
pf="$work/postfix"
mkdir -p "$pf/etc" "$pf/queue" "$pf/data"
# A minimal master.cf without chroot: our smtpd on the loopback port plus
# the daemons a relaying Postfix needs.
cat >"$pf/etc/master.cf" <<CF
127.0.0.1:$p_port inet n - n - - smtpd
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
CF
chown postfix "$pf/data"
cat >"$pf/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.test
mydestination =
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$sink2_port
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
maillog_file = $pf/postfix.log
maillog_file_prefixes = $pf
default_process_limit = 100
CF

# postfix(1) reports problems only on a terminal; script(1) gives it one.
script -qec "postfix -c $pf/etc start" /dev/null >"$work/postfix-start.log" 2>&1 ||
	{ cat "$work/postfix-start.log" >&2; exit 1; }
wait_port "$p_port"
t0=$(now)
run_source "$p_port"
t1=$(now)
wait_count "$work/sink-postfix" "$N"
t2=$(now)
p_accept=$(rate "$N" "$t0" "$t1")
p_relay=$(rate "$N" "$t0" "$t2")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
summary=$(cat <<OUT
messages=$N sessions=$SESSIONS size=${SIZE}B
mailerd: accept $m_accept msg/s, relay $m_relay msg/s
postfix: accept $p_accept msg/s, relay $p_relay msg/s
ratio mailerd/postfix: accept $(ratio "$m_accept" "$p_accept"), relay $(ratio "$m_relay" "$p_relay")
OUT
)
echo "$summary"
if [ "$RECORD" = 1 ] && [ "$N" -ge 1000 ]; then
	{
		echo
		echo "## $(date -u +%Y-%m-%d) relay.sh ($(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
		echo '```'
		echo "$summary"
		echo '```'
	} >>bench/RESULTS.md
fi
