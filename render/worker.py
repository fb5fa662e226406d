"""The engine in a worker process: what the desktop app runs every long job in.

The window's process then does no torch work while a job runs (no GIL contention with the UI, no
second thread pool in the same process), and a crash, an out-of-memory kill or a SIGKILL of the job
leaves the window alive. The worker is *spawned*, never forked (a forked copy of a process with Qt
and torch thread pools can deadlock), and talks back over one queue of picklable messages: the
engine's typed events, then exactly one of :class:`Finished`, :class:`Failed` or :class:`Stopped`.
A worker that dies without one of those died from outside (killed, out of memory); its owner sees
``is_alive()`` false with no final message and says so.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import traceback
from dataclasses import dataclass
from typing import Any

from nerfie.render.engine import JobRequest, ViewRequest


@dataclass(frozen=True)
class Finished:
    result: Any


@dataclass(frozen=True)
class Failed:
    message: str
    advice: str
    details: str = ""  # a traceback, for bugs only


@dataclass(frozen=True)
class Stopped:
    """The job was cancelled; what it finished is kept."""


FINAL = (Finished, Failed, Stopped)


def _latest(views: Any) -> ViewRequest | None:
    """Drain the view queue; only the newest request matters (the view follows the mouse, no backlog)."""
    latest = None
    while True:
        try:
            latest = views.get_nowait()
        except queue.Empty:
            return latest
        except (EOFError, OSError):  # the window's side went away
            return latest


def worker_main(request: JobRequest, events: Any, cancel: Any, pause: Any, views: Any) -> None:
    """Entry point of the spawned process: run one engine call, report, exit."""
    from nerfie.recon.device import configure_threads
    from nerfie.recon.errors import NerfieError, describe_failure
    from nerfie.recon.events import Cancelled
    from nerfie.recon.processes import lower_priority
    from nerfie.render.engine import Controls, Engine, execute

    lower_priority()
    configure_threads()
    engine = Engine(events.put, Controls(cancel.is_set, pause.is_set, lambda: _latest(views)))
    try:
        result = execute(engine, request)
    except Cancelled:
        events.put(Stopped())
    except BaseException as exc:  # reported, never a silent exit
        details = "" if isinstance(exc, NerfieError) else traceback.format_exc()
        events.put(Failed(*describe_failure(exc), details=details))
    else:
        events.put(Finished(result))
    events.close()
    events.join_thread()  # everything sent is flushed before the process ends


class EngineProcess:
    """One job in a spawned worker process; poll it for messages from the owner's thread."""

    def __init__(self, request: JobRequest) -> None:
        ctx = mp.get_context("spawn")
        self.request = request
        self.events = ctx.Queue()
        self.views = ctx.Queue()
        self._cancel = ctx.Event()
        self._pause = ctx.Event()
        self.process = ctx.Process(target=worker_main, name=f"nerfie-{request.verb}",
                                   args=(request, self.events, self._cancel, self._pause, self.views), daemon=True)
        self.final: Finished | Failed | Stopped | None = None

    def start(self) -> None:
        self.process.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def cancel(self) -> None:
        self._cancel.set()
        self._pause.clear()

    def set_paused(self, paused: bool) -> None:
        (self._pause.set if paused else self._pause.clear)()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    def request_view(self, req: ViewRequest) -> None:
        self.views.put(req)

    def poll(self, limit: int = 200) -> list[Any]:
        """Messages that arrived since the last poll (at most ``limit``), in order."""
        out: list[Any] = []
        while len(out) < limit:
            try:
                msg = self.events.get_nowait()
            except queue.Empty:
                break
            except (EOFError, OSError):
                break
            out.append(msg)
            if isinstance(msg, FINAL):
                self.final = msg
        return out

    def running(self) -> bool:
        return self.process.is_alive()

    def died(self) -> bool:
        """Ended without a final message (killed from outside, out of memory, a crash in native code)."""
        return self.final is None and self.process.exitcode is not None and not self.process.is_alive() \
            and not self._pending()

    def _pending(self) -> bool:
        try:
            return not self.events.empty()
        except (OSError, ValueError):
            return False

    def join(self, timeout: float | None = None) -> None:
        self.process.join(timeout)
