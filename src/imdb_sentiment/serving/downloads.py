"""The app's download folder under the system temp dir: one per app, removed when the app closes,
and folders left by crashed apps removed at the next start.

    folder = DownloadFolder()       # /tmp/imdb_sentiment_app_<pid>_<random>/, made on first use
    folder.new_file("predictions.csv")
    folder.remove()                 # also at process exit (atexit)
    private_gradio_cache()          # gradioApp.py, before importing gradio: its uploads go here too

The folder's name carries the pid of the process that made it. At start, :func:`remove_stale`
removes the folders with this prefix that belong to this user and whose process is gone. Limits:
a process killed with SIGKILL leaves its folder until the next app starts on the machine; a pid
reused by an unrelated process keeps that folder until the pid is free again; a folder made by
another pid namespace (a container sharing /tmp) is judged by a pid that means nothing here, so
only this user's folders are touched, and those without a pid in their name (made before the pid
was recorded) only once they are a day old.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

PREFIX = "imdb_sentiment_app_"
KEEP_S = 3600  # a request's folder lives this long: gradio copies the file into its cache on return
LEGACY_AGE_S = 24 * 3600
_NAME = re.compile(rf"^{PREFIX}(\d+)_")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def remove_stale(root: str | Path | None = None) -> list[Path]:
    """Remove this user's app folders whose process is gone; returns what was removed."""
    removed = []
    root = Path(root or tempfile.gettempdir())
    for path in root.glob(f"{PREFIX}*"):
        try:
            info = path.lstat()
        except OSError:
            continue
        if not path.is_dir() or path.is_symlink() or info.st_uid != os.getuid():
            continue
        match = _NAME.match(path.name)
        if match:
            stale = int(match.group(1)) != os.getpid() and not _alive(int(match.group(1)))
        else:
            stale = time.time() - info.st_mtime > LEGACY_AGE_S
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


class DownloadFolder:
    """A per-app temp folder, made when first needed (a Service that never writes a file leaves
    nothing behind), with a fresh subfolder per file (two users may upload the same name)."""

    def __init__(self, root: str | Path | None = None, kind: str = ""):
        self.root, self.kind = root, kind  # kind: a word in the name, e.g. "gradio"
        self._path: Path | None = None

    @property
    def path(self) -> Path:
        if self._path is None or not self._path.is_dir():
            prefix = f"{PREFIX}{os.getpid()}_{self.kind + '_' if self.kind else ''}"
            self._path = Path(tempfile.mkdtemp(prefix=prefix, dir=self.root))
            atexit.register(self.remove)
        return self._path

    def new_file(self, name: str) -> Path:
        """A path ``name`` in a new subfolder; subfolders older than ``KEEP_S`` are removed first."""
        for old in self.path.iterdir():
            try:
                if time.time() - old.stat().st_mtime > KEEP_S:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                continue
        return Path(tempfile.mkdtemp(dir=self.path)) / name

    def remove(self) -> None:
        if self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
            self._path = None


def private_gradio_cache() -> Path | None:
    """Point gradio's temp folder (uploads, returned files) at a folder of this process's own,
    named like the download folders, so that it goes at exit and, after a crash, at the next
    start; gradio's shared ``<tmp>/gradio`` keeps empty upload folders and 0-byte files forever.
    Call it before gradio is imported (gradio reads the variable once, at import). A
    ``GRADIO_TEMP_DIR`` the user set is kept, and then this returns None."""
    if os.environ.get("GRADIO_TEMP_DIR"):
        return None
    path = DownloadFolder(kind="gradio").path  # removed at exit, like the app's download folder
    os.environ["GRADIO_TEMP_DIR"] = str(path)
    return path
