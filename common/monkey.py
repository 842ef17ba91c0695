"""Process set-up that must happen before anything else is imported.

Only the entry points (and tests/conftest.py) call :func:`patch`, as their
very first statement.
"""
import os
import warnings


def patch() -> None:
    """Monkey-patch the standard library for eventlet, once per process."""
    # psycopg 3 detects gevent's monkey patch but not eventlet's; its C wait
    # function would block every green thread while a query runs. It reads
    # this variable when first imported (DESIGN.md section 6).
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
    # NOTE(capstan): eventlet's green DNS resolver imports dnspython, ~8 MiB
    # per process (docs/benchmarks.md, benchmark 6). capstan resolves only
    # the database and broker hosts, when it connects; without it eventlet
    # calls the system resolver. Set EVENTLET_NO_GREENDNS=no to keep it.
    os.environ.setdefault("EVENTLET_NO_GREENDNS", "yes")
    silence_eventlet_warning()
    import eventlet

    eventlet.monkey_patch()


def silence_eventlet_warning() -> None:
    """Hide eventlet's import-time deprecation warning.

    Operators cannot act on it, so they should not see it on every start
    (DESIGN.md section 6). Call before eventlet is first imported.
    """
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
