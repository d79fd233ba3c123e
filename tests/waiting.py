"""Polling with a deadline, for tests that wait on threads, ptys or subprocesses (never a fixed sleep)."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 5.0, what: str = "condition", interval: float = 0.005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
