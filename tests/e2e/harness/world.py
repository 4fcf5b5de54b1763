"""The fake Internet of the end-to-end tests: one loopback address per remote
site, the DNS names that point at them, and what each site does.

Every SMTP peer listens on the SAME port (mailerd has one smtp_port for all
MX hosts) on its own 127.0.0.x address. The DNS zone below is served by
dnsmasq (harness/dns.py) for the fake TLD ".test"; any other name under
.test is NXDOMAIN.
"""

POSTFIX_IP = "127.0.0.2"   # real Postfix, virtual mailboxes alice@ and bob@
GREYLIST_IP = "127.0.0.3"  # 451 for the first attempt of each (sender, rcpt), then 250
DOWN421_IP = "127.0.0.4"   # 421 greeting (primary MX of down421.test)
REFUSED_IP = "127.0.0.5"   # nothing listens: connection refused
SLOW_IP = "127.0.0.6"      # takes DATA, then never answers the final "."
NOMX_IP = "127.0.0.7"      # aiosmtpd sink at the A record of nomx.test
SINK_IP = "127.0.0.8"      # aiosmtpd counting sink (sink.test)
BACKUP_IP = "127.0.0.9"    # aiosmtpd sink, second MX of down421.test
TEMPFAIL_IP = "127.0.0.10"  # 451 to every RCPT, forever (expiry tests)
THROTTLE_IP = "127.0.0.11"  # 250 but slow DATA reply; counts parallel sessions

PEER_IPS = (POSTFIX_IP, GREYLIST_IP, DOWN421_IP, REFUSED_IP, SLOW_IP, NOMX_IP,
            SINK_IP, BACKUP_IP, TEMPFAIL_IP, THROTTLE_IP)

POSTFIX_USERS = ("alice", "bob")

# name -> list of (preference, exchanger host) ; exchanger host -> address
MX = {
    "postfix.test": [(10, "mx.postfix.test")],
    "greylist.test": [(10, "mx.greylist.test")],
    "down421.test": [(10, "mx1.down421.test"), (20, "mx2.down421.test")],
    "refused.test": [(10, "mx.refused.test")],
    "slow.test": [(10, "mx.slow.test")],
    "sink.test": [(10, "mx.sink.test")],
    "tempfail.test": [(10, "mx.tempfail.test")],
    "throttle.test": [(10, "mx.throttle.test")],
}
HOSTS = {
    "mx.postfix.test": POSTFIX_IP,
    "mx.greylist.test": GREYLIST_IP,
    "mx1.down421.test": DOWN421_IP,
    "mx2.down421.test": BACKUP_IP,
    "mx.refused.test": REFUSED_IP,
    "mx.slow.test": SLOW_IP,
    "mx.sink.test": SINK_IP,
    "mx.tempfail.test": TEMPFAIL_IP,
    "mx.throttle.test": THROTTLE_IP,
    "nomx.test": NOMX_IP,      # no MX: implicit MX (RFC 5321 section 5.1)
}
NULL_MX = ("nullmx.test",)     # "MX 0 ." (RFC 7505)
SERVFAIL = ("servfail.test",)  # forwarded to a resolver that answers SERVFAIL
NXDOMAIN_EXAMPLE = "nosuchdomain.test"
