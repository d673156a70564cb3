"""refserver's stream folders on disk: which are its own, where a stream's playlist left off,
and removing those nobody uses any more.

A stream's folder (``<hls_dir>/<name>``) gets a marker file, :data:`MARKER`, when refserver
packages into it. Only marked folders are ever expired, and only refserver's own files in them
(playlists, segments, init segments, their temporaries and the marker) are deleted; the folder
itself goes only when that leaves it empty. So nothing a user put under ``hls_dir`` is lost.

A stream that starts where an earlier one of the same name left a playlist (a restart of
refserver, or a republish after the stream ended) carries its media sequence on: see
:func:`resume_point`.

The default HLS folder is a temporary one (:class:`TemporaryHlsFolder`) holding a lock file
that stays locked (``flock``) while its refserver runs. The kernel releases the lock when the
process dies, however it dies (SIGKILL included), so at start a temporary folder whose lock can
be taken is a leftover and is removed: the lock, not a pid that may have been reused, says so.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from refserver.hls.storage import DirectoryStorage
from wire.hls import parse
from wire.hls.errors import PlaylistError

logger = logging.getLogger(__name__)

MARKER = ".refserver-stream"
"""In every folder refserver packages a stream into."""
LOCK = ".refserver-lock"
"""In a temporary HLS folder, locked while the refserver that made it runs."""
TEMPORARY_PREFIX = "refserver-hls-"
OWN_FILE = re.compile(
    rf"({re.escape(DirectoryStorage.TEMP_PREFIX)})?[A-Za-z0-9_\-]{{1,64}}\.(m3u8|ts|m4s|mp4)"
)
"""The names the packager writes (the same shapes the HTTP side serves), and their temporaries."""


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Where a stream's previous playlist left off: the number its next segment takes, and
    the discontinuity sequence once all of that playlist's segments have been removed."""

    next_sequence: int
    discontinuity_sequence: int


def resume_point(folder: Path, playlist_name: str) -> ResumePoint | None:
    """Where the playlist in ``folder`` left off; None without a readable playlist.

    Continuing from its last segment number, with every segment of the old playlist taken as
    removed, is what RFC 8216 asks of any live playlist update: the media sequence only grows
    (§6.2.1), and the discontinuity sequence grows by the discontinuities removed with their
    segments (§4.3.3.3, §6.2.2). The new first segment is a discontinuity.
    """
    path = folder / playlist_name
    try:
        playlist = parse(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, PlaylistError) as exc:
        logger.warning(
            "previous playlist unreadable; starting the media sequence at 0",
            extra={"path": str(path), "error": str(exc)},
        )
        return None
    removed = sum(segment.discontinuity for segment in playlist.segments)
    return ResumePoint(playlist.next_media_sequence, playlist.discontinuity_sequence + removed)


def remove_own_files(folder: Path) -> None:
    """Delete the files refserver writes from ``folder``, and nothing else."""
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name == MARKER or OWN_FILE.fullmatch(entry.name):
            entry.unlink(missing_ok=True)


def claim_stream_folder(folder: Path, playlist_name: str) -> ResumePoint | None:
    """Make ``folder`` ready for a new packager: where its last playlist left off is read, the
    files a previous packager wrote are deleted (they would show under the new numbers), and
    the folder is marked as refserver's."""
    resume = resume_point(folder, playlist_name)
    remove_own_files(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).touch()
    return resume


def last_written(folder: Path) -> float:
    """The newest modification time among refserver's files in ``folder`` (the marker is one):
    another file, or the folder's own time, which any new file changes, does not count."""
    newest = 0.0
    for entry in folder.iterdir():
        if entry.name == MARKER or OWN_FILE.fullmatch(entry.name):
            newest = max(newest, entry.stat().st_mtime)
    return newest


def expire_stream_folders(
    hls_dir: Path, active: set[str], *, now: float, expire_after: float
) -> list[str]:
    """Remove refserver's files from the marked stream folders in ``hls_dir`` that are not in
    ``active`` and were last written ``expire_after`` seconds before ``now`` or earlier; the
    folder goes too when that leaves it empty. Returns the names expired."""
    expired: list[str] = []
    try:
        folders = [entry for entry in hls_dir.iterdir() if entry.name not in active]
    except FileNotFoundError:
        return expired
    for folder in folders:
        try:
            if (
                folder.is_symlink()
                or not (folder / MARKER).is_file()
                or now - last_written(folder) < expire_after
            ):
                continue
            remove_own_files(folder)
            if not any(folder.iterdir()):
                folder.rmdir()
        except OSError as exc:
            logger.warning(
                "expiring a stream folder failed", extra={"path": str(folder), "error": str(exc)}
            )
            continue
        expired.append(folder.name)
        logger.info("stream folder expired", extra={"stream": folder.name})
    return expired


class TemporaryHlsFolder:
    """A fresh temporary folder for HLS, locked as in use until :meth:`remove`."""

    def __init__(self, parent: Path | None = None) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=TEMPORARY_PREFIX, dir=parent))
        # Locked under a temporary name, then renamed: a refserver starting at the same moment
        # either sees no lock file (and leaves the folder alone) or one already locked.
        pending = self.path / f"{LOCK}.new"
        self._lock = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(self._lock, f"{os.getpid()}\n".encode())  # for people; the lock decides
        pending.rename(self.path / LOCK)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._lock)


def remove_stale_temporary_folders(parent: Path | None = None) -> list[Path]:
    """Remove the temporary HLS folders in ``parent`` (the system's temporary folder) left by
    refservers that are no longer running: ours (the prefix, owned by this user, a lock file
    inside) and unlocked. Returns those removed."""
    parent = Path(tempfile.gettempdir()) if parent is None else parent
    removed = []
    for folder in parent.glob(f"{TEMPORARY_PREFIX}*"):
        try:
            if (
                folder.is_symlink()
                or not folder.is_dir()
                or folder.stat().st_uid != os.getuid()
                or not _unlocked(folder / LOCK)
            ):
                continue
            shutil.rmtree(folder)
        except OSError as exc:
            logger.warning(
                "removing a stale HLS folder failed", extra={"path": str(folder), "error": str(exc)}
            )
            continue
        removed.append(folder)
        logger.info("stale HLS folder removed", extra={"path": str(folder)})
    return removed


def _unlocked(lock: Path) -> bool:
    """True when ``lock`` exists and no process holds it."""
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False  # absent: not a folder of ours, or one still being made
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # releases the lock again, if it was taken
    return True
