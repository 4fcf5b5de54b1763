#!/usr/bin/env bash
# contacts_check.sh - speed of `mailerd contacts check` on a generated list.
#
# Generates N contacts (default 100000) over D distinct domains (default
# 20000) under the fake TLD ".bench", served by a dnsmasq this script
# starts on a loopback port (nothing else is ever asked: --no-resolv and
# every .bench name is local). Of the domains 80% have an MX with an
# address, 5% a null MX (RFC 7505), 5% only an A record (implicit MX) and
# 10% do not exist; 2% of the rows have a syntax error and 2% a provider
# typo (gmial.com, hotmial.con), which need no DNS at all. A SQLite
# suppression store holds about 1% of the addresses.
#
# Prints the time, contacts/s and the verdict counts; the goal (issue 6)
# is 100k contacts in under a minute. Exit 1 when a full run misses it or
# the report does not have one row per contact.
#
# Usage: bench/contacts_check.sh [--quick] [-n CONTACTS] [-d DOMAINS] [--parallel N]
#   --quick   5000 contacts over 1000 domains (what CI may run)
set -euo pipefail
cd "$(dirname "$0")/.."

N=100000
D=20000
PARALLEL=
QUICK=0
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) N=5000; D=1000; QUICK=1 ;;
	-n) N="$2"; shift ;;
	-d) D="$2"; shift ;;
	--parallel) PARALLEL="--parallel $2"; shift ;;
	*) echo "usage: $0 [--quick] [-n CONTACTS] [-d DOMAINS] [--parallel N]" >&2; exit 2 ;;
	esac
	shift
done

MAILERD=${MAILERD_BIN:-build/mailerd}
[ -x "$MAILERD" ] || { echo "contacts_check.sh: $MAILERD not built (run make)" >&2; exit 1; }
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
[ -x "$DNSMASQ" ] || { echo "contacts_check.sh: dnsmasq missing (tests/run.sh installs it)" >&2; exit 1; }

work=$(mktemp -d)
dns_pid=
cleanup() {
	[ -n "$dns_pid" ] && kill "$dns_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# The list and the zone, from one seeded generator so runs compare.
/usr/bin/python3 - "$N" "$D" "$work" <<'EOF'
import random, sys
n, d, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rnd = random.Random(6)
def wire(name):  # RFC 1035 section 3.1 name, as hex for dns-rr
    return "".join("%02x" % len(l) + l.encode().hex() for l in name.split(".")) + "00"
with open(work + "/zone.conf", "w") as z:
    # MX hosts shared by many domains, as hosting providers' are
    for h in range(50):
        z.write("host-record=mx%d.hosting.bench,127.0.0.1\n" % h)
    for i in range(d):
        dom = "d%05d.bench" % i
        kind = i % 20
        # MX records as raw RDATA (preference, exchange): dnsmasq scans
        # its mx-host list linearly per query, which would make this a
        # benchmark of dnsmasq
        if kind < 16:    # MX with an address
            z.write("dns-rr=%s,15,000a%s\n" % (dom, wire("mx%d.hosting.bench" % (i % 50))))
        elif kind == 16:  # null MX: preference 0, exchange "." (one zero byte)
            z.write("dns-rr=%s,15,000000\n" % dom)
        elif kind == 17:  # no MX, an A record: implicit MX
            z.write("host-record=%s,127.0.0.1\n" % dom)
        # 18, 19: not in the zone -> NXDOMAIN
suppressed = []
with open(work + "/list.csv", "w") as f:
    f.write("first_name,last_name,email,signup\n")
    for i in range(n):
        r = rnd.random()
        if r < 0.02:
            addr = "user %d@d%05d.bench" % (i, rnd.randrange(d))
        elif r < 0.03:
            addr = "user%d@gmial.com" % i
        elif r < 0.04:
            addr = "user%d@hotmial.con" % i
        else:
            addr = "user%d@d%05d.bench" % (i, rnd.randrange(d))
        f.write('Name%d,"Last, %d",%s,2026-01-%02d\n' % (i, i, addr, i % 28 + 1))
        if i % 100 == 50 and " " not in addr:
            suppressed.append(addr)
# every 100th contact is on the suppression list
with open(work + "/suppressed.csv", "w") as f:
    f.write("address,reason\n")
    for addr in suppressed:
        f.write("%s,userunknown\n" % addr)
EOF

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user=()
[ "$(id -u)" = 0 ] && user=(--user=root)
"$DNSMASQ" --no-resolv --no-hosts --no-daemon --port="$port" --listen-address=127.0.0.1 \
	--bind-interfaces --conf-file="$work/zone.conf" --local=/bench/ --cache-size=10000 \
	--dns-forward-max=1000 "${user[@]}" >"$work/dnsmasq.log" 2>&1 &
dns_pid=$!

# Wait until dnsmasq answers (a raw MX query for the first domain).
/usr/bin/python3 - "$port" <<'EOF' || { echo "dnsmasq did not start:"; cat "$work/dnsmasq.log"; exit 1; }
import socket, struct, sys, time
port = int(sys.argv[1])
q = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\x06d00000\x05bench\x00" + struct.pack("!HH", 15, 1)
for _ in range(100):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.1)
    try:
        s.sendto(q, ("127.0.0.1", port))
        if s.recv(512)[3] & 0xF == 0:
            sys.exit(0)
    except OSError:
        time.sleep(0.1)
    finally:
        s.close()
sys.exit(1)
EOF

# A real suppression store, so the run pays for one lookup per address.
"$MAILERD" suppress -o state_db="sqlite:$work/state.db" import "$work/suppressed.csv" >/dev/null

echo "contacts check: $N contacts, $D domains, dnsmasq on 127.0.0.1:$port"
start=$(date +%s.%N)
# shellcheck disable=SC2086
"$MAILERD" contacts check -o dns_servers="127.0.0.1:$port" -o dns_timeout=2s \
	-o state_db="sqlite:$work/state.db" $PARALLEL --report "$work/report.csv" \
	--out "$work/clean.csv" "$work/list.csv" 2>"$work/summary.txt"
end=$(date +%s.%N)
cat "$work/summary.txt"

rows=$(($(wc -l <"$work/report.csv") - 1))
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
rate=$(awk -v n="$N" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : n) }')
echo "wall time $secs s, $rate contacts/s"
if [ "$rows" -ne "$N" ]; then
	echo "FAIL: the report has $rows rows, want $N" >&2
	exit 1
fi
if [ "$QUICK" = 0 ] && [ "$N" -ge 100000 ]; then
	if awk -v s="$secs" 'BEGIN { exit !(s < 60) }'; then
		echo "goal (100k contacts in under a minute): met"
	else
		echo "goal (100k contacts in under a minute): MISSED" >&2
		exit 1
	fi
fi
