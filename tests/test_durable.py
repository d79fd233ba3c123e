"""Durable writes: the whole file or none after a crash, and nothing planted in the folder is followed."""

from __future__ import annotations

import os

from kiosk.durable import TEMP_SUFFIX, temp_files, write_file_durably


def test_a_link_planted_at_the_temp_name_is_not_written_through(tmp_path):
    """The temp file's name used to be <name>.part, opened with O_TRUNC: a symlink planted there
    (by whoever can write the folder) made the writer truncate and fill the file it pointed at."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    target = tmp_path / "status.json"
    planted = target.with_name(target.name + TEMP_SUFFIX)
    planted.symlink_to(victim)

    write_file_durably(target, b"the new contents")

    assert victim.read_bytes() == b"untouched"
    assert not target.is_symlink() and target.read_bytes() == b"the new contents"
    assert planted.is_symlink()  # left alone, neither followed nor replaced


def test_a_write_leaves_no_temp_file_and_replaces_the_old_contents(tmp_path):
    target = tmp_path / "manifest.json"
    target.write_bytes(b"old")
    write_file_durably(target, b"new" * 1000)
    assert target.read_bytes() == b"new" * 1000
    assert os.listdir(tmp_path) == ["manifest.json"]


def test_temp_files_names_what_an_interrupted_write_left(tmp_path):
    image = tmp_path / "20240501T100000Z-0badc0de.png"
    left = [image.with_name(image.name + TEMP_SUFFIX), image.with_name(f"{image.name}.4242-deadbeef{TEMP_SUFFIX}")]
    for path in left:
        path.write_bytes(b"half")
    (tmp_path / f"other.png.4242-deadbeef{TEMP_SUFFIX}").write_bytes(b"someone else's")
    assert sorted(p for p in temp_files(image) if p.exists()) == sorted(left)
