"""Process facts and settings that differ between POSIX and Windows: is a pid alive, run below the UI.

POSIX has ``kill(pid, 0)`` and ``nice``; Windows has neither, and uses ``OpenProcess`` /
``GetExitCodeProcess`` and priority classes (through ctypes: no extra dependency).
"""

from __future__ import annotations

import os
import sys
from typing import Any

WORKER_NICENESS = 10  # POSIX nice increment for background workers
BELOW_NORMAL_PRIORITY_CLASS = 0x00004000  # Windows' equivalent
_PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
_STILL_ACTIVE = 259
_ERROR_ACCESS_DENIED = 5


def _kernel32() -> Any:
    import ctypes

    return ctypes.windll.kernel32  # type: ignore[attr-defined]  # exists on Windows only


def pid_alive(pid: int, windows: bool = os.name == "nt") -> bool:
    """Whether process ``pid`` still runs (another user's counts as running)."""
    if windows:
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    except OSError:
        return False
    return True


def _pid_alive_windows(pid: int) -> bool:
    import ctypes

    kernel32 = _kernel32()
    handle = kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return kernel32.GetLastError() == _ERROR_ACCESS_DENIED  # exists but is not ours to query
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True  # cannot tell: the registry's heartbeat decides
        return code.value == _STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def lower_priority(windows: bool = sys.platform == "win32") -> bool:
    """Run this process below the window's. Returns whether the OS accepted it.

    The scheduler then wakes the UI thread at once when it has an event to handle, instead of letting
    it wait out a busy worker thread's time slice (measured as 40–60 ms event-loop stalls on 2 cores).
    The job loses nothing while the window is idle.
    """
    if windows:
        kernel32 = _kernel32()
        return bool(kernel32.SetPriorityClass(kernel32.GetCurrentProcess(), BELOW_NORMAL_PRIORITY_CLASS))
    try:
        os.nice(WORKER_NICENESS)
    except OSError:
        return False
    return True
