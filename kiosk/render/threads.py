"""What the render workers share: a latest-wins mailbox, and threads that yield to the UI thread."""

from __future__ import annotations

import os
import threading

WORKER_NICE = 5
"""In the booth's loop (App.run), render threads run this much nicer than the UI thread. The booth
has 2 cores and 3 busy threads while a stick moves (the UI, the design, the previews): at equal
priority the scheduler parks the UI thread behind a render for a whole time slice, which showed
as 25-35 ms frames. The UI thread needs about a quarter of a core, so this costs the renders
little. Tests step the app without it: on a loaded test machine it would only starve their renders."""
BACKGROUND_NICE = 10
"""Captures run nicer still: a 1024 px render is seconds of CPU that must not slow the draft the
visitor watches (the toast says when it is saved)."""


def lower_priority(threads, nice: int = WORKER_NICE) -> None:
    """Make these (started) threads nicer: Linux schedules each thread on its own. A no-op where
    that is not possible; the renders still run."""
    for thread in threads:
        try:
            tid = thread.native_id
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
        except (AttributeError, TypeError, OSError):  # not Linux, not started, or already gone
            pass


class Mailbox:
    """Holds only the newest item; `get` blocks until one arrives or the worker is stopped.

    `idle` is set while nothing is waiting and the worker has finished what it took (`done`); both
    change under the mailbox's lock, so a request put while the worker finishes never reads as idle."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item = None
        self._stop = False
        self.idle = threading.Event()
        self.idle.set()

    def put(self, item) -> None:
        with self._cond:
            self._item = item
            self.idle.clear()
            self._cond.notify()

    def done(self) -> None:
        """The worker finished the item it took: idle unless a newer one waits."""
        with self._cond:
            if self._item is None:
                self.idle.set()

    def get(self):
        with self._cond:
            while self._item is None and not self._stop:
                self._cond.wait()
            item, self._item = self._item, None
            return item

    def newer(self) -> bool:
        with self._cond:
            return self._item is not None or self._stop

    def stopped(self) -> bool:
        with self._cond:
            return self._stop

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
