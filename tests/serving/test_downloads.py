"""No leftovers: the app's download folder is made when first needed, removed when the demo closes,
and folders of crashed apps (this user's, with this prefix, whose process is gone) are removed at
the next start; nothing else in the temp dir is touched. (gradioApp.py stopped by SIGTERM is
checked in test_app.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from imdb_sentiment import Classifier
from imdb_sentiment.serving.app import build_demo, launch
from imdb_sentiment.serving.downloads import LEGACY_AGE_S, PREFIX, DownloadFolder, remove_stale


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=120)
    return child.pid


def test_folders_of_dead_apps_go_and_nothing_else(tmp_path):
    dead = tmp_path / f"{PREFIX}{dead_pid()}_abc"
    mine = tmp_path / f"{PREFIX}{os.getpid()}_abc"
    parent = tmp_path / f"{PREFIX}{os.getppid()}_abc"  # a live process
    legacy_old, legacy_new = tmp_path / f"{PREFIX}oldstyle1", tmp_path / f"{PREFIX}oldstyle2"
    other = tmp_path / f"other_{dead_pid()}_abc"
    for folder in (dead, mine, parent, legacy_old, legacy_new, other):
        (folder / "sub").mkdir(parents=True)
        (folder / "sub" / "predictions.csv").write_text("x")
    a_day_ago = time.time() - LEGACY_AGE_S - 60
    os.utime(legacy_old, (a_day_ago, a_day_ago))
    a_file = tmp_path / f"{PREFIX}{dead_pid()}_file"
    a_file.write_text("not a folder")
    assert sorted(remove_stale(tmp_path)) == sorted([dead, legacy_old])
    assert not dead.exists() and not legacy_old.exists()
    assert all(p.exists() for p in (mine, parent, legacy_new, other, a_file))


def test_download_folder_is_made_on_first_use_and_removed(tmp_path):
    folder = DownloadFolder(tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing until a file is written
    first, second = folder.new_file("p.csv"), folder.new_file("p.csv")
    assert first != second and first.parent.parent == second.parent.parent == folder.path
    assert folder.path.name.startswith(f"{PREFIX}{os.getpid()}_")
    first.write_text("x")
    folder.remove()
    assert list(tmp_path.iterdir()) == []
    folder.remove()  # twice is fine


@pytest.mark.parametrize("launched", [False, True], ids=["built", "served"])
def test_closing_the_demo_removes_its_download_folder(trained_model_dir, tmp_path, launched):
    demo = build_demo(Classifier.from_pretrained(trained_model_dir, device="cpu"))
    if launched:
        launch(demo, port=None, prevent_thread_lock=True)
    review = tmp_path / "reviews.txt"
    review.write_text("a superb film .\n")
    _, output = demo.service.predict_file(str(review))
    folder = demo.service.downloads.path
    assert folder.is_dir() and str(output).startswith(str(folder))
    demo.close()
    assert not folder.exists()
