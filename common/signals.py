"""The signals the launchers answer, queued by their handlers.

A handler runs between two bytecodes of whichever greenthread is current,
possibly the hub itself: it only records the signal number in a
:class:`SignalQueue`, which the launcher's loop reads on its next poll.
"""
from __future__ import annotations

import collections
import signal
import types
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class SignalQueue:
    """Signals received while a launcher's wait() runs, oldest first."""

    def __init__(self) -> None:
        self._pending: collections.deque[int] = collections.deque()
        self._previous: dict[int, Any] = {}

    @property
    def installed(self) -> bool:
        return bool(self._previous)

    def install(self) -> None:
        for signo in HANDLED_SIGNALS:
            self._previous[signo] = signal.signal(signo, self._on_signal)

    def restore(self) -> None:
        for signo, handler in self._previous.items():
            # None: set outside Python; the closest restorable is SIG_DFL.
            signal.signal(signo, handler or signal.SIG_DFL)
        self._previous.clear()

    def push(self, signo: int) -> None:
        self._pending.append(signo)

    def pop(self) -> int | None:
        return self._pending.popleft() if self._pending else None

    def _on_signal(self, signo: int, frame: types.FrameType | None) -> None:
        # Runs between two bytecodes of whichever greenthread is current,
        # possibly the hub itself: record only, never log or switch here.
        self._pending.append(signo)


def _signal_name(signo: int) -> str:
    return signal.Signals(signo).name


def signal_name(signo: int) -> str:
    return signal.Signals(signo).name


def reset_child_signals() -> None:
    # The inherited handlers feed the parent's queue, which nobody reads here;
    # until the worker's ServiceLauncher installs its own, stop at once.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # By default SIGHUP kills: a forwarded one must not kill a starting worker.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
