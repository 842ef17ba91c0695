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
    # eventlet warns at import that it is deprecated; operators cannot act on
    # that, so they should not see it on every start.
    warnings.filterwarnings("ignore", message=".*[Ee]ventlet is deprecated")
    warnings.filterwarnings("ignore", category=DeprecationWarning,
                            module="eventlet")
    import eventlet

    eventlet.monkey_patch()
