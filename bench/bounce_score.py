#!/usr/bin/python3
"""bounce_score.py - score `mailerd bounce parse` against the shared bounce
corpus (public/expected.jsonl), the way the corpus README describes:

  pair expected and reported records one-to-one by recipient (trimmed,
  lower-cased, without <>), in order; recipient recall/precision, reason
  accuracy (the main figure), exact status, status class (first digit),
  email exact; not/ emails are right only when nothing is reported;
  emails marked no_reference are left out.

Prints the totals, the totals counting each content_sha1 once, one line per
family and the list of misses. With --floor-* options it exits 1 when a
figure falls below the floor (used by the ctest that guards the score).
Standard library only.
"""
import argparse
import collections
import json
import re
import os
import subprocess
import sys


def norm(addr):
    return (addr or "").strip().strip("<>").strip().lower()


def words(text):
    """a diagnostic's words, compared without case or runs of white space"""
    return " ".join((text or "").split()).lower()


def run_parser(binary, public, files):
    """Run the parser once over all files; group its records by file."""
    got = collections.defaultdict(list)
    proc = subprocess.run([binary, "bounce", "parse", "--explain"] + files, cwd=public,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode("utf-8", "replace")[-2000:])
        sys.exit("parser exited %d" % proc.returncode)
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        got[rec.get("file", "")].append(rec)
    return got


class Tally:
    def __init__(self):
        self.exp = self.rep = self.paired = self.reason = 0
        self.status = self.klass = self.emails = self.exact = 0
        self.real = self.real_ok = 0  # expected status is an RFC 3463 code
        self.agent = self.diag = 0  # smtp_agent the same; diagnostic_code the same words

    def add(self, other):
        for k in vars(self):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def pct(self, n, d):
        return 100.0 * n / d if d else 100.0

    def figures(self):
        return {
            "recall": self.pct(self.paired, self.exp),
            "precision": self.pct(self.paired, self.rep),
            "reason": self.pct(self.reason, self.exp),
            "status": self.pct(self.status, self.exp),
            "class": self.pct(self.klass, self.exp),
            "exact": self.pct(self.exact, self.emails),
            "status_rfc": self.pct(self.real_ok, self.real),
        }


def score_email(exp_recs, got_recs, misses, fname):
    t = Tally()
    t.emails = 1
    t.exp = len(exp_recs)
    t.rep = len(got_recs)
    used = [False] * len(got_recs)
    ok_all = True
    for e in exp_recs:
        match = None
        for i, g in enumerate(got_recs):
            if not used[i] and norm(g.get("recipient")) == norm(e["recipient"]):
                match = i
                break
        if match is None:
            ok_all = False
            misses.append("%s: missing %s (want %s %s)" % (
                fname, e["recipient"], e["reason"], e["status"]))
            continue
        used[match] = True
        g = got_recs[match]
        t.paired += 1
        rs = g.get("reason") == e["reason"]
        st = g.get("status", "") == e["status"]
        cl = (g.get("status", "") or " ")[0] == (e["status"] or " ")[0]
        if e["status"] and not re.match(r"^[45]\.0\.9\d\d$", e["status"]):
            t.real += 1
            t.real_ok += st
        t.reason += rs
        t.status += st
        t.klass += cl
        t.agent += g.get("smtp_agent") == e.get("smtp_agent")
        t.diag += words(g.get("diagnostic_code")) == words(e.get("diagnostic_code"))
        if not (rs and st):
            ok_all = False
            misses.append("%s: %s reason %s want %s, status %s want %s [%s]" % (
                fname, e["recipient"], g.get("reason"), e["reason"],
                g.get("status"), e["status"], g.get("smtp_agent", "") + ": " + g.get("explain", "")))
    for i, g in enumerate(got_recs):
        if not used[i]:
            ok_all = False
            misses.append("%s: extra %s (%s %s)" % (
                fname, g.get("recipient"), g.get("reason"), g.get("status")))
    t.exact = 1 if ok_all else 0
    return t


def line(name, t):
    f = t.figures()
    return "%-28s %5d %5d  %6.1f %6.1f %6.1f %6.1f %6.1f %6.1f" % (
        name, t.emails, t.exp, f["recall"], f["precision"], f["reason"],
        f["status"], f["class"], f["exact"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--misses", help="write the miss list here instead of stdout")
    ap.add_argument("--quiet", action="store_true", help="totals only")
    for k in ("recall", "precision", "reason", "status", "status_rfc", "class"):
        ap.add_argument("--floor-" + k.replace("_", "-"), type=float)
    ap.add_argument("--floor-not", action="store_true",
                    help="fail if any not/ email yields a record")
    a = ap.parse_args()

    public = os.path.join(a.corpus, "public")
    exp = [json.loads(l) for l in open(os.path.join(public, "expected.jsonl"))]
    exp = [e for e in exp if not e.get("no_reference")]
    got = run_parser(os.path.abspath(a.bin), public, [e["file"] for e in exp])

    total, uniq = Tally(), Tally()
    fams = collections.defaultdict(Tally)
    seen = set()
    misses = []
    not_ok = not_n = 0
    for e in exp:
        t = score_email(e["records"], got.get(e["file"], []), misses, e["file"])
        total.add(t)
        fams[e["family"]].add(t)
        if e["content_sha1"] not in seen:
            seen.add(e["content_sha1"])
            uniq.add(t)
        if e.get("not_bounce"):
            not_n += 1
            not_ok += 1 if not got.get(e["file"]) else 0

    hdr = "%-28s %5s %5s  %6s %6s %6s %6s %6s %6s" % (
        "family", "mails", "recs", "recall", "prec", "reason", "status", "class", "exact")
    print(hdr)
    print(line("ALL", total))
    print(line("ALL (each content once)", uniq))
    print("status exact where the expected status is a real RFC 3463 code "
          "(not a X.0.9NN placeholder): %.1f%%" % total.figures()["status_rfc"])
    print("not/ emails reported as no bounce: %d of %d" % (not_ok, not_n))
    print("smtp_agent as expected: %.1f%%; diagnostic_code the expected words: %.1f%%" % (
        total.pct(total.agent, total.exp), total.pct(total.diag, total.exp)))
    if not a.quiet:
        print()
        print(hdr)
        for name in sorted(fams, key=lambda n: (-fams[n].exp, n)):
            print(line(name, fams[name]))
        out = open(a.misses, "w") if a.misses else sys.stdout
        out.write("\nmisses (%d):\n" % len(misses))
        for m in misses:
            out.write(m + "\n")
        if a.misses:
            out.close()
            print("\nmisses (%d) written to %s" % (len(misses), a.misses))

    f = total.figures()
    bad = []
    for k in ("recall", "precision", "reason", "status", "status_rfc", "class"):
        floor = getattr(a, "floor_" + k)
        if floor is not None and f[k] < floor:
            bad.append("%s %.1f%% below floor %.1f%%" % (k, f[k], floor))
    if a.floor_not and not_ok != not_n:
        bad.append("%d not/ emails reported as bounces" % (not_n - not_ok))
    if bad:
        print("FAIL: " + "; ".join(bad))
        sys.exit(1)


if __name__ == "__main__":
    main()
