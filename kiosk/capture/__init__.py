"""The booth's capture log: photographed designs and the visitors' trail, kept durably in SQLite.

    log.py        CaptureLog, what the kiosk holds: checks its arguments, hands commands to the writer
    writer.py     the writer thread (`capture-log`): owns the connection, commits, retries a locked
                  log, sets a damaged one aside, maintains
    journal.py    the image journal: a capture's image and row saved durably, start-up's sweep, retention
    files.py      the image files, the quarantine, free space
    sessions.py   which visitor session is open
    status.py     LogStatus and its notices, what F12 shows
    faults.py     what SQLite's errors mean for the booth; how long it waits for a locked log
    exported.py   mark_exported, for fse-export (its own process, its own connection)

The tables, their readers and the writes' statements are in contract/capture_schema.py and
contract/capture_writes.py. Nothing is imported here, so `fse-export` can import exported.py
without the writer's thread machinery.
"""
