"""The macOS and Windows code paths, forced on this Linux machine: core count, atomic replace, processes.

Each test takes away (or fakes) what Linux has and the other platform lacks, and checks that Nerfie
still does the right thing there.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest

from nerfie.recon import device, fileio, processes
from nerfie.recon.config import NerfieConfig
from nerfie.recon.errors import NerfieError
from nerfie.recon.fileio import atomic_path, write_json_atomic
from nerfie.recon.project import Project


@pytest.fixture
def no_thread_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NERFIE_THREADS", raising=False)


def test_cores_on_macos_and_old_windows_pythons_are_the_logical_cores(monkeypatch: pytest.MonkeyPatch,
                                                                       no_thread_override: None) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # not on macOS or Windows
    monkeypatch.delattr(os, "process_cpu_count", raising=False)  # Python < 3.13
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert device.available_cores() == 6


def test_cores_come_from_process_cpu_count_where_python_has_it(monkeypatch: pytest.MonkeyPatch,
                                                               no_thread_override: None) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "process_cpu_count", lambda: 3, raising=False)  # affinity-aware, every platform
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert device.available_cores() == 3


def test_cores_on_linux_follow_the_affinity_mask(monkeypatch: pytest.MonkeyPatch, no_thread_override: None) -> None:
    monkeypatch.delattr(os, "process_cpu_count", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert device.available_cores() == 2


class OpenElsewhere:
    """os.replace as on Windows while another program holds the target open for ``times`` tries."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.real = os.replace

    def __call__(self, src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if self.times > 0:
            self.times -= 1
            raise PermissionError(13, "The process cannot access the file because it is being used by another process")
        self.real(src, dst)


def test_windows_replace_waits_for_a_reader_to_let_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fileio, "ON_WINDOWS", True)
    monkeypatch.setattr(fileio.time, "sleep", lambda _s: None)
    monkeypatch.setattr(fileio.os, "replace", OpenElsewhere(times=3))
    write_json_atomic(tmp_path / "project.json", {"a": 1})
    assert (tmp_path / "project.json").read_text().strip().startswith("{")
    assert [p.name for p in tmp_path.iterdir()] == ["project.json"]  # no temporary file left


def test_windows_replace_of_a_file_held_open_for_good_says_close_it_and_keeps_the_old(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "turntable.mp4"
    target.write_bytes(b"old video")
    monkeypatch.setattr(fileio, "ON_WINDOWS", True)
    slept: list[float] = []
    monkeypatch.setattr(fileio.time, "sleep", slept.append)
    monkeypatch.setattr(fileio.os, "replace", OpenElsewhere(times=10**6))
    with pytest.raises(NerfieError, match="open in another program") as err, atomic_path(target) as tmp:
        tmp.write_bytes(b"new video")
    assert "Close it" in err.value.advice
    assert sum(slept) >= 3.0  # waited a few seconds (an antivirus scan) before giving up
    assert target.read_bytes() == b"old video"
    assert [p.name for p in tmp_path.iterdir()] == ["turntable.mp4"]


def test_posix_permission_denied_is_not_retried_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fileio, "ON_WINDOWS", False)
    slept: list[float] = []
    monkeypatch.setattr(fileio.time, "sleep", slept.append)
    monkeypatch.setattr(fileio.os, "replace", OpenElsewhere(times=1))
    with pytest.raises(NerfieError, match="permission denied"):
        write_json_atomic(tmp_path / "x.json", {})
    assert slept == []


class FakeKernel32:
    """The few kernel32 calls Nerfie makes, answering as Windows would for one process."""

    def __init__(self, exit_code: int | None = 259, last_error: int = 0) -> None:
        self.exit_code = exit_code  # None: OpenProcess fails
        self.last_error = last_error
        self.calls: list[tuple[object, ...]] = []

    def OpenProcess(self, access: int, inherit: bool, pid: int) -> int:
        self.calls.append(("OpenProcess", pid))
        return 0 if self.exit_code is None else 42

    def GetLastError(self) -> int:
        return self.last_error

    def GetExitCodeProcess(self, handle: int, ref: object) -> int:
        ref._obj.value = self.exit_code  # type: ignore[attr-defined]  # a ctypes.byref
        return 1

    def CloseHandle(self, handle: int) -> int:
        self.calls.append(("CloseHandle", handle))
        return 1

    def GetCurrentProcess(self) -> int:
        return -1

    def SetPriorityClass(self, handle: int, priority: int) -> int:
        self.calls.append(("SetPriorityClass", handle, priority))
        return 1


@pytest.mark.parametrize(("kernel", "alive"), [
    (FakeKernel32(exit_code=259), True),  # STILL_ACTIVE
    (FakeKernel32(exit_code=0), False),  # exited
    (FakeKernel32(exit_code=None, last_error=87), False),  # no such process
    (FakeKernel32(exit_code=None, last_error=5), True),  # access denied: another user's, running
])
def test_windows_pid_probe(kernel: FakeKernel32, alive: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes, "_kernel32", lambda: kernel)
    assert processes.pid_alive(1234, windows=True) is alive
    opened = [c for c in kernel.calls if c[0] == "OpenProcess"]
    closed = [c for c in kernel.calls if c[0] == "CloseHandle"]
    assert len(opened) == 1 and len(closed) == (0 if kernel.exit_code is None else 1)


def test_posix_pid_probe() -> None:
    assert processes.pid_alive(os.getpid(), windows=False)
    assert not processes.pid_alive(2**22 + 12345, windows=False)  # above Linux's pid_max


def test_a_windows_worker_runs_below_normal_priority(monkeypatch: pytest.MonkeyPatch) -> None:
    kernel = FakeKernel32()
    monkeypatch.setattr(processes, "_kernel32", lambda: kernel)
    assert processes.lower_priority(windows=True)
    assert kernel.calls == [("SetPriorityClass", -1, processes.BELOW_NORMAL_PRIORITY_CLASS)]


def test_a_source_video_on_another_windows_drive_is_stored_absolute(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    proj = Project.create(tmp_path / "proj", NerfieConfig())

    def relpath_across_drives(path: str, start: str) -> str:
        raise ValueError("path is on mount 'D:', start on mount 'C:'")  # what ntpath.relpath raises

    monkeypatch.setattr(os.path, "relpath", relpath_across_drives)
    video = tmp_path / "elsewhere" / "clip.mp4"
    stored = proj.relative(video)
    assert stored == video.absolute().as_posix()
    assert proj.resolve(stored) == video.resolve()


def test_ctypes_byref_exposes_the_object_the_fake_writes() -> None:
    """The fake kernel32 relies on ``byref(x)._obj`` being ``x``: check it, so the probe test means something."""
    code = ctypes.c_ulong()
    ctypes.byref(code)._obj.value = 7  # type: ignore[attr-defined]
    assert code.value == 7
