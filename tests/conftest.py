"""Test-wide set-up shared by every tier.

NOTE(capstan): the binaries monkey-patch at their very first line; the tests
do the same here, before anything imports socket, threading or psycopg, so
the code under test runs as it does in production.
"""
from common import monkey

monkey.patch()
