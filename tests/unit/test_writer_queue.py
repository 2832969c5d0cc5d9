"""The single box's writer lock (SQLite): first come, first served, except that the engine's
and the sender's writes (``paging_first``) go before the web's. A storm of intake requests
must not hold the pages back (issue 14: the 200-case burst paged in 5-6 s, its pages leaving
only after the last intake)."""

from __future__ import annotations

import threading
import time

from oncall.db.session import _WriterQueue, make_engine, paging_first


def _wait_until(condition, timeout: float = 5.0) -> None:
    """Wait for another thread to reach a state (not for a deadline)."""
    limit = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < limit, "the other thread never got there"
        time.sleep(0.001)


def _queue_up(queue: _WriterQueue, name: str, order: list[str], *, urgent: bool = False):
    def run() -> None:
        if urgent:
            with paging_first():
                assert queue.acquire(timeout=5)
        else:
            assert queue.acquire(timeout=5)
        order.append(name)
        queue.release()

    before = queue.waiting
    thread = threading.Thread(target=run)
    thread.start()
    _wait_until(lambda: queue.waiting == before + 1)
    return thread


def test_writers_are_served_in_the_order_they_came():
    queue, order = _WriterQueue(), []
    assert queue.acquire(timeout=1)
    threads = [_queue_up(queue, f"web-{i}", order) for i in range(4)]
    queue.release()
    for thread in threads:
        thread.join(5)
    assert order == ["web-0", "web-1", "web-2", "web-3"]


def test_paging_work_goes_before_the_web_requests_already_waiting():
    queue, order = _WriterQueue(), []
    assert queue.acquire(timeout=1)
    threads = [_queue_up(queue, f"web-{i}", order) for i in range(3)]
    threads.append(_queue_up(queue, "sender", order, urgent=True))
    threads.append(_queue_up(queue, "engine", order, urgent=True))
    queue.release()
    for thread in threads:
        thread.join(5)
    assert order == ["sender", "engine", "web-0", "web-1", "web-2"]


def test_a_writer_that_gave_up_does_not_hold_up_the_ones_behind_it():
    queue, order = _WriterQueue(), []
    assert queue.acquire(timeout=1)
    assert queue.acquire(timeout=0.01) is False  # waited its turn out, left the line
    assert queue.waiting == 0
    thread = _queue_up(queue, "web", order)
    queue.release()
    thread.join(5)
    assert order == ["web"]


def test_paging_first_is_per_thread_and_undone_after():
    queue = _WriterQueue()
    with paging_first():
        with paging_first():
            pass
        assert queue.acquire(timeout=1)
        queue.release()
    assert queue._urgent == [] and queue._others == []


def test_a_sqlite_write_transaction_holds_the_queue_until_it_commits(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'writer.db'}")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        order: list[str] = []
        first = engine.connect()
        first.begin()
        first.exec_driver_sql("INSERT INTO t VALUES (1)")
        queue = first.connection.dbapi_connection.writer

        def second() -> None:
            with engine.begin() as connection:
                connection.exec_driver_sql("INSERT INTO t VALUES (2)")
                order.append("second")

        thread = threading.Thread(target=second)
        thread.start()
        _wait_until(lambda: queue.waiting == 1)  # queued behind the open transaction
        order.append("first")
        first.commit()
        first.close()
        thread.join(5)
        assert order == ["first", "second"]
    finally:
        engine.dispose()
