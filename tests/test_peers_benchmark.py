"""benchmarks/peers.py reads the peers' own output: what it reports must match what they printed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "peers.py"


def load_peers():
    spec = importlib.util.spec_from_file_location("peers_benchmark", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_the_last_step_and_its_time_are_read_from_ns_trains_progress_table() -> None:
    peers = load_peers()
    log = ("Step (% Done)       Train Iter (time)    ETA (time)\n"
           "\x1b[2A\x1b[1K0 (0.00%)           26 s, 621.675 ms     308 d, 2 h  \x1b[0m\r"
           "\x1b[2A\x1b[1K5 (0.00%)           23 s, 757.397 ms     274 d, 23 h, 14 m 45.24     \x1b[0m\n"
           "noise 7 (x) line\n")
    assert peers.logged_steps(log) == (5, "23 s, 757.397 ms")
    assert peers.logged_steps("no table at all") == (-1, "")


def test_a_peer_that_does_not_import_is_reported_with_its_own_error_line() -> None:
    peers = load_peers()
    err = ("WARNING: Location 'file:///opt/x' is ignored\nTraceback (most recent call last):\n"
           '  File "kplanes_field.py", line 33, in <module>\n'
           "ImportError: cannot import name 'shift_directions_for_tcnn' from 'nerfstudio.fields.base_field'\n")
    assert peers.last_error(err).startswith("ImportError: cannot import name 'shift_directions_for_tcnn'")
    row = peers.table_row({"peer": "kplanes", "scene": "hook", "method": "kplanes-dynamic",
                           "why": peers.last_error(err)})
    assert "not scored: ImportError" in row and "| hook |" in row


def test_an_absent_scene_gives_a_reason_and_installs_nothing(tmp_path: Path) -> None:
    peers = load_peers()
    row = peers.run_peer(peers.PEERS["kplanes"], "hook", 1.0, tmp_path / "out", venvs=tmp_path / "venvs",
                         data=tmp_path / "no-data")
    assert "absent" in row["why"] and not (tmp_path / "venvs").exists()


def test_a_peer_stopped_at_the_budget_before_its_first_checkpoint_says_so(tmp_path: Path) -> None:
    """A peer too slow to reach a checkpoint in the minutes given gets a row saying how far it came, not
    an ns-train failure (the benchmark stopped it) and not a score."""
    peers = load_peers()
    venv = tmp_path / "venvs" / "nerfstudio-dnerf"
    (venv / "bin").mkdir(parents=True)
    (venv / "installed.txt").write_text("nerfstudio==1.1.5\n")
    fake = venv / "bin" / "python"  # imports fine, then prints ns-train's table and trains forever
    fake.write_text("#!/bin/sh\n[ \"$1\" = \"-c\" ] && exit 0\n"
                    "printf 'Step (%% Done)       Train Iter (time)    ETA (time)\\n'\n"
                    "printf '10 (0.00%%)          20 s, 358.462 ms     2356 d, 7 h  50.40\\n'\n"
                    "exec sleep 600\n")
    fake.chmod(0o755)
    data = tmp_path / "data"
    (data / "dnerf_hook").mkdir(parents=True)
    row = peers.run_peer(peers.PEERS["nerfstudio-dnerf"], "hook", 0.05, tmp_path / "out",
                         venvs=tmp_path / "venvs", data=data)
    assert row["steps"] == 10 and "psnr" not in row
    assert row["why"] == "no checkpoint after 0.05 min (10 steps, 20 s, 358.462 ms a step)"
