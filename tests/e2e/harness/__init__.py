"""Test harness of the mailerd end-to-end suite.

Peers (DNS, a real Postfix, python SMTP servers) that the fixtures in
tests/e2e/conftest.py start on loopback addresses, and a driver for the
mailerd binary under test. Only loopback (127.0.0.0/8) is ever contacted.
"""
