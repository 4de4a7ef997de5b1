"""Shared fixtures: real HLS segments cut from the sample videos, and the model directory."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENTS = os.path.join(ROOT, "tests", "events")
MODEL_DIR = os.path.join(ROOT, "model", "artifacts")


def load_event(name: str) -> dict:
    import json

    with open(os.path.join(EVENTS, name)) as handle:
        return json.load(handle)


@pytest.fixture(scope="session")
def segments(tmp_path_factory):
    """Real ``.ts`` segments: ``{"bikes": [...], "bikes_720p": [...], "bikes_1080p": [...], "bunny": [...]}``."""
    from videos.samples import cut_segments, sample_path

    base = tmp_path_factory.mktemp("segments")
    bikes = sample_path("bikes.mp4")
    return {
        "bikes": cut_segments(bikes, str(base / "bikes")),
        "bikes_720p": cut_segments(bikes, str(base / "720p"), scale="1280:720"),
        "bikes_1080p": cut_segments(bikes, str(base / "1080p"), scale="1920:1080"),
        "bunny": cut_segments(sample_path("bigbuckbunny.mp4"), str(base / "bunny"), audio=True),
    }


@pytest.fixture(scope="session")
def model_dir():
    """The exported model directory (random weights unless real ones were exported)."""
    if not os.path.exists(os.path.join(MODEL_DIR, "manifest.json")):
        subprocess.run(
            [sys.executable, "-m", "model", "export", "--source", "random", "--out", MODEL_DIR], check=True, cwd=ROOT
        )
    return MODEL_DIR
