"""One thread budget for every Nerfie process on the machine: members share the cores, a member
that leaves or dies gives its share back, and a training run is a member while it runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nerfie.recon import thread_budget
from nerfie.recon.thread_budget import STALE_S, ThreadBudget


def member(registry: Path, cores: int = 4) -> tuple[ThreadBudget, list[int]]:
    applied: list[int] = []
    return ThreadBudget("test", cores=cores, registry=registry, apply=applied.append), applied


def test_members_split_the_cores_and_a_leaver_gives_its_share_back(tmp_path: Path) -> None:
    a, a_threads = member(tmp_path)
    b, _ = member(tmp_path)
    assert a.join() == 4 and a_threads == [4]  # alone: every core
    assert b.join() == 2  # two members: half each
    assert a.refresh(force=True) == 2 and a_threads[-1] == 2
    b.leave()
    assert a.refresh(force=True) == 4 and a_threads[-1] == 4


def test_never_less_than_one_thread(tmp_path: Path) -> None:
    members = [member(tmp_path, cores=2)[0] for _ in range(5)]
    assert [m.join() for m in members][-1] == 1


def test_refresh_rereads_the_registry_at_most_once_a_second(tmp_path: Path) -> None:
    now = [1000.0]
    a = ThreadBudget("test", cores=2, registry=tmp_path, apply=lambda n: None, clock=lambda: now[0])
    a.join()
    b, _ = member(tmp_path, cores=2)
    b.join()
    assert a.refresh() == 2  # too soon: the last count stands
    now[0] += thread_budget.REFRESH_S
    assert a.refresh() == 1


def test_a_member_whose_process_is_gone_is_dropped(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f"{dead.pid}-0.json").write_text("{}")
    a, _ = member(tmp_path)
    assert a.join() == 4
    assert not (tmp_path / f"{dead.pid}-0.json").exists()


def test_a_member_without_heartbeat_is_dropped_even_if_its_pid_is_alive(tmp_path: Path,
                                                                                   monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(thread_budget, "pid_alive", lambda pid: True)  # the pid was reused: it says nothing
    other = tmp_path / f"{os.getpid() + 1}-0.json"
    other.write_text("{}")
    a, _ = member(tmp_path)
    assert a.join() == 2  # a fresh heartbeat counts
    old = time.time() - STALE_S - 1
    os.utime(other, (old, old))
    assert a.refresh(force=True) == 4


def test_nerfie_threads_fixes_the_count_and_stays_out_of_the_registry(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NERFIE_THREADS", "3")
    b, _ = member(tmp_path)
    b.join()
    fixed = ThreadBudget("test", registry=tmp_path, apply=lambda n: None)
    assert fixed.join() == 3 and not fixed.joined


def test_a_training_run_is_a_member_while_it_runs_and_leaves_after(small_capture: Path, tmp_path: Path) -> None:
    from nerfie.recon.config import preset, with_overrides
    from nerfie.recon.importers import import_transforms
    from nerfie.recon.train import Trainer

    registry = thread_budget.registry_dir()
    cfg = with_overrides(preset("cpu-preview"), {"train.rays_per_batch": 128, "train.eval_every": 0,
                                                 "train.checkpoint_every": 0, "model.proposal_samples": [16],
                                                 "model.shaded_samples": 8})
    proj = import_transforms(small_capture / "transforms.json", tmp_path / "proj", cfg)
    seen: list[list[str]] = []
    trainer = Trainer(proj, between_steps=lambda t: seen.append(
        [f.name for f in registry.glob("*.json") if f.name.startswith(f"{os.getpid()}-")]))
    trainer.run(steps=3)
    assert seen and all(len(names) == 1 for names in seen)
    assert not [f for f in registry.glob("*.json") if f.name.startswith(f"{os.getpid()}-")]


@pytest.mark.skipif(os.name != "posix", reason="the child is probed by pid (POSIX)")
def test_a_second_process_halves_this_ones_threads_and_its_exit_restores_them(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom pathlib import Path\nfrom nerfie.recon.thread_budget import ThreadBudget\n"
         "b = ThreadBudget('child', cores=2, registry=Path(sys.argv[1]), apply=lambda n: None)\n"
         "b.join(); print('joined', flush=True); sys.stdin.read()",
         str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "joined"
        me, _ = member(tmp_path, cores=2)
        assert me.join() == 1
    finally:
        child.kill()
        child.wait()
    assert me.refresh(force=True) == 2
