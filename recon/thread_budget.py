"""One thread budget for every Nerfie process on this machine.

torch sizes its intra-op pool to the cores it sees; two processes that each do so on a 2-core
machine spin-wait against each other and run many times slower than either would alone. So a Nerfie
process that is about to do torch work *joins* a small registry (one file per process in a
per-user runtime folder), and every member sets its pool to its fair share of the cores: the
available cores divided by the members still alive. Members re-read the registry every second or
so (a ``listdir``; cheap next to a training step), so a second job starting or ending re-balances
the first within a second. A member that died without leaving (SIGKILL, power cut) is dropped when
its process is gone or when its heartbeat is older than :data:`STALE_S` (pids are reused).

``NERFIE_THREADS`` fixes the count and switches the coordination off (what a user who knows their
machine asks for).
"""

from __future__ import annotations

import getpass
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from nerfie.recon.device import available_cores
from nerfie.recon.processes import pid_alive

STALE_S = 120.0  # a member's heartbeat older than this is taken as dead, whatever its pid says
REFRESH_S = 1.0  # how often a member re-reads the registry


def registry_dir() -> Path:
    """``$NERFIE_RUNTIME_DIR`` or ``<tmp>/nerfie-<user>/workers``: one per user, shared by their processes."""
    env = os.environ.get("NERFIE_RUNTIME_DIR")
    if env:
        return Path(env)
    try:
        user = getpass.getuser()
    except Exception:  # no user name (some containers): one folder for all
        user = "user"
    return Path(tempfile.gettempdir()) / f"nerfie-{user}" / "workers"


def _set_torch_threads(n: int) -> None:
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


class ThreadBudget:
    """This process's membership of the registry; ``threads`` is its current fair share.

    Use as a context manager around torch work, and call :meth:`refresh` now and then (the trainer
    does between steps). ``apply`` sets the pool (torch's by default; tests pass a recorder).
    """

    def __init__(self, role: str = "work", cores: int | None = None, registry: Path | None = None,
                 apply: Callable[[int], None] = _set_torch_threads, clock: Callable[[], float] = time.time) -> None:
        self.role = role
        self.fixed = bool(os.environ.get("NERFIE_THREADS")) and cores is None
        self.cores = cores or available_cores()
        self.registry = registry or registry_dir()
        self.apply = apply
        self.clock = clock
        self.pid = os.getpid()
        self.threads = self.cores
        self._file = self.registry / f"{self.pid}-{id(self):x}.json"
        self._joined = False
        self._last_refresh = -1e18

    # ---- membership ------------------------------------------------------------------------------

    def join(self) -> int:
        """Register and take the fair share; returns the thread count set."""
        if not self.fixed:
            self._write()
        return self.refresh(force=True)

    def _write(self) -> None:
        try:
            self.registry.mkdir(parents=True, exist_ok=True)
            self._file.write_text(json.dumps({"pid": self.pid, "role": self.role}), encoding="utf-8")
            self._joined = True
        except OSError:  # an unwritable temp folder: run alone rather than fail the job
            self._joined = False

    @property
    def joined(self) -> bool:
        return self._joined

    def leave(self) -> None:
        if self._joined:
            try:
                self._file.unlink()
            except OSError:
                pass
            self._joined = False

    def __enter__(self) -> ThreadBudget:
        self.join()
        return self

    def __exit__(self, *exc: object) -> None:
        self.leave()

    # ---- the share -------------------------------------------------------------------------------

    def members(self) -> int:
        """Live members of the registry (this one included when joined); stale files are removed."""
        if not self.registry.is_dir():
            return 1
        now = self.clock()
        alive = 0
        for f in self.registry.glob("*.json"):
            try:
                pid = int(f.name.split("-", 1)[0])
                age = now - f.stat().st_mtime
            except (ValueError, OSError):
                continue
            if f != self._file and (age > STALE_S or not pid_alive(pid)):
                try:
                    f.unlink()
                except OSError:
                    pass
                continue
            alive += 1
        return max(alive, 1)

    def share(self) -> int:
        return self.cores if self.fixed else max(1, self.cores // self.members())

    def refresh(self, force: bool = False) -> int:
        """Heartbeat, re-read the registry (at most every :data:`REFRESH_S`) and re-size the pool."""
        now = self.clock()
        if not force and now - self._last_refresh < REFRESH_S:
            return self.threads
        self._last_refresh = now
        if self._joined:
            try:
                os.utime(self._file)
            except OSError:  # removed by someone tidying the temp folder: write it again
                self._write()
        n = self.share()
        if n != self.threads or force:
            self.threads = n
            self.apply(n)
        return n
