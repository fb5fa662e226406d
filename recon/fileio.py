"""Atomic file writes.

A killed process or a full disk must never leave a half-written ``project.json``, checkpoint
or frame behind: everything is written to a temporary file in the same folder, flushed, and
renamed over the target (``os.replace`` is atomic on POSIX and Windows; on Windows it is retried
while another program has the target open).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from nerfie.recon.errors import NerfieError

# Windows refuses to rename over a file another program holds open (a video player showing the last
# turntable, an image viewer, an antivirus scan or the search indexer for a moment): wait that out.
REPLACE_WAITS_S = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
ON_WINDOWS = os.name == "nt"


def replace_file(src: Path, target: Path) -> None:
    """``os.replace(src, target)``; on Windows retried for a few seconds while ``target`` is open elsewhere."""
    windows = ON_WINDOWS
    waits = REPLACE_WAITS_S if windows else ()
    for wait in (*waits, None):
        try:
            os.replace(src, target)
            return
        except PermissionError as exc:
            if wait is not None:
                time.sleep(wait)
                continue
            if windows:
                raise NerfieError(
                    f"{target} is open in another program, so Nerfie cannot replace it.",
                    "Close it (a video player or image viewer?) and run the same command again; "
                    "finished work is kept.") from exc
            raise NerfieError(f"Nerfie may not write {target} (permission denied).",
                              "Choose a folder you can write to, or fix its permissions.") from exc


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success rename it over ``target``.

    Use it for writers that want a file name (imageio, ffmpeg, numpy, torch.save). The temporary
    name is hidden and keeps the target's extension last, for writers that infer the format from it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".partial{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; finished files get normal permissions
    try:
        yield tmp_path
        replace_file(tmp_path, target)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise NerfieError(
                f"The disk is full while writing {target}.",
                "Free some space and run the same command again; finished work is kept.",
            ) from exc
        raise
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_atomic(target: str | os.PathLike[str], writer: Callable[[IO[bytes]], None]) -> None:
    """Write ``target`` through ``writer(fileobj)`` atomically (fsynced before the rename)."""
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        writer(fh)
        fh.flush()
        os.fsync(fh.fileno())


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    write_atomic(target, lambda fh: fh.write(data))


def write_json_atomic(target: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n"
    write_bytes_atomic(target, text.encode("utf-8"))


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file, turning a missing or malformed file into an actionable error."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NerfieError(f"{path} does not exist.", "Check the path.") from exc
    except json.JSONDecodeError as exc:
        raise NerfieError(
            f"{path} is not valid JSON (line {exc.lineno}: {exc.msg}).",
            "Restore it from a backup or delete it so Nerfie can rebuild it.",
        ) from exc
