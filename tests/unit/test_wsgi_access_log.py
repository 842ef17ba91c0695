"""AccessLog: lines queued on the request's thread, written by another."""
from __future__ import annotations

import io
import logging
import logging.handlers
import threading

import pytest
from oslo_config import cfg
from oslo_log import formatters
from oslo_log import log as oslo_log

from capstan.common.context import RequestContext
from capstan.common.wsgi_access_log import AccessLog


class _ListHandler(logging.Handler):
    """Keep every record it is given, formatted."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logger(request):
    """A logger of its own, not propagating, cleaned up afterwards."""
    log = logging.getLogger(f"test.access.{request.node.name}")
    log.setLevel(logging.INFO)
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def _in_thread(function) -> None:
    thread = threading.Thread(target=function)
    thread.start()
    thread.join()


def _context_formatter() -> formatters.ContextFormatter:
    conf = cfg.ConfigOpts()
    oslo_log.register_options(conf)
    conf([], default_config_files=[])
    return formatters.ContextFormatter(config=conf)


def test_access_log_line_keeps_request_id_of_the_request_thread(logger):
    handler = _ListHandler()
    handler.setFormatter(_context_formatter())
    logger.addHandler(handler)
    access = AccessLog(logger)

    def request() -> None:
        RequestContext(user_id="u", project_id="p",
                       request_id="req-access-1", overwrite=True)
        access.line('127.0.0.1 "GET /v1 HTTP/1.1" 200 112 0.000152')

    _in_thread(request)
    access.flush()  # on this thread, whose current context is another

    assert len(handler.lines) == 1
    assert "req-access-1" in handler.lines[0]
    assert '"GET /v1 HTTP/1.1" 200 112' in handler.lines[0]


def test_access_log_line_without_context_has_no_request_id(logger):
    handler = _ListHandler()
    logger.addHandler(handler)
    access = AccessLog(logger)

    _in_thread(lambda: access.line("no context"))
    RequestContext(request_id="req-of-the-writer", overwrite=True)
    access.flush()

    assert handler.lines == ["no context"]


def test_access_log_logger_level_above_info_queues_nothing(logger):
    handler = _ListHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    access = AccessLog(logger, max_pending=1)

    access.line("one")
    access.line("two")
    access.flush()

    assert handler.lines == []
    assert access.dropped == 0


def test_access_log_handler_levels_and_filters_apply(logger):
    quiet = _ListHandler(level=logging.WARNING)
    filtered = _ListHandler()
    filtered.addFilter(lambda record: "keep" in record.getMessage())
    logger.addHandler(quiet)
    logger.addHandler(filtered)
    access = AccessLog(logger)

    access.line("keep this")
    access.line("drop this")
    access.flush()

    assert quiet.lines == []
    assert filtered.lines == ["keep this"]


def test_access_log_parent_handlers_get_the_lines(logger):
    parent = _ListHandler()
    logger.parent.addHandler(parent)
    logger.propagate = True
    try:
        access = AccessLog(logger)
        access.line("to the parent")
        access.flush()
    finally:
        logger.parent.removeHandler(parent)

    assert parent.lines == ["to the parent"]


def test_access_log_full_queue_drops_new_lines_and_warns(logger):
    handler = _ListHandler()
    logger.addHandler(handler)
    access = AccessLog(logger, max_pending=2)

    for number in range(5):
        access.line(f"line {number}")
    dropped = access.dropped
    access.flush()

    assert dropped == 3
    assert handler.lines[0].startswith("access log: 3 lines dropped")
    assert handler.lines[1:] == ["line 0", "line 1"]
    assert access.dropped == 0


def test_access_log_close_writes_every_queued_line(logger):
    handler = _ListHandler()
    logger.addHandler(handler)
    access = AccessLog(logger, interval=60, chunk=7)
    writer = threading.Thread(target=access.run)
    writer.start()

    for number in range(100):
        access.line(f"line {number}")
    access.close()
    writer.join()

    assert handler.lines == [f"line {number}" for number in range(100)]


def test_access_log_running_writer_writes_lines_as_they_come(logger):
    handler = _ListHandler()
    logger.addHandler(handler)
    access = AccessLog(logger, interval=0.01)
    flushes = []
    flush = access.flush
    access.flush = lambda: (flushes.append(1), flush())[1]
    writer = threading.Thread(target=access.run)
    writer.start()
    try:
        # Idle: the writer sleeps until a line comes, it does not poll.
        threading.Event().wait(0.1)
        assert flushes == []
        for round_ in range(3):
            access.line(f"line {round_}")
            for _ in range(500):  # up to 5 s
                if len(handler.lines) > round_:
                    break
                threading.Event().wait(0.01)
        assert handler.lines == ["line 0", "line 1", "line 2"]
    finally:
        access.close()
        writer.join()


def test_access_log_watched_file_gets_one_line_per_request(logger, tmp_path):
    path = tmp_path / "api.log"
    logger.addHandler(logging.handlers.WatchedFileHandler(str(path)))
    access = AccessLog(logger, chunk=3)

    for number in range(10):
        access.line(f"line {number}")
    access.flush()
    (tmp_path / "api.log").rename(tmp_path / "api.log.1")  # logrotate
    access.line("after rotation")
    access.flush()

    assert (tmp_path / "api.log.1").read_text().splitlines() == [
        f"line {number}" for number in range(10)]
    assert path.read_text() == "after rotation\n"


def test_access_log_stream_write_error_goes_to_handle_error(logger):
    class _Failing(io.StringIO):
        def write(self, text):
            raise OSError("disk full")

    handler = logging.StreamHandler(_Failing())
    errors: list[str] = []
    handler.handleError = lambda record: errors.append(record.getMessage())
    logger.addHandler(handler)
    access = AccessLog(logger)

    access.line("lost")
    access.line("lost too")
    access.flush()

    assert errors == ["lost", "lost too"]


def test_access_log_writer_survives_a_failing_filter(logger):
    handler = _ListHandler()
    logger.addHandler(handler)

    def refuse_once(record: logging.LogRecord) -> bool:
        if record.getMessage() == "poison":
            raise ValueError("broken filter")
        return True

    handler.addFilter(refuse_once)
    access = AccessLog(logger, interval=60, chunk=1)
    writer = threading.Thread(target=access.run)
    writer.start()

    access.line("poison")
    access.line("after")
    access.close()
    writer.join()

    assert handler.lines[0].startswith("access log: writing lines failed")
    assert "broken filter" in handler.lines[0]  # the traceback
    assert handler.lines[1:] == ["after"]
