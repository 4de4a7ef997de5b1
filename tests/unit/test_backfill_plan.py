"""Backfill's stream ids: one per file, distinct even when file names collide."""

from devstack.stream import stream_ids


def test_distinct_files_keep_their_names():
    assert stream_ids(["rec/cam 1.mp4", "rec/door.mkv"]) == {"rec/cam 1.mp4": "cam-1", "rec/door.mkv": "door"}


def test_same_name_in_different_folders_gets_the_folders():
    ids = stream_ids(["/data/a/cam.mp4", "/data/b/cam.mp4", "/data/b/other.mp4"])
    assert ids == {"/data/a/cam.mp4": "a/cam", "/data/b/cam.mp4": "b/cam", "/data/b/other.mp4": "other"}
    assert len(set(ids.values())) == len(ids)


def test_nested_collisions_are_told_apart_by_every_folder_below_the_shared_one():
    ids = stream_ids(["/d/x/1/cam.ts", "/d/y/1/cam.ts"])
    assert ids == {"/d/x/1/cam.ts": "x/1/cam", "/d/y/1/cam.ts": "y/1/cam"}
