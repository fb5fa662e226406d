"""On macOS, ops MPS lacks fall back to the CPU unless the user said otherwise; torch must see it at import."""

from __future__ import annotations

import os
import subprocess
import sys

from nerfie.recon.mps_fallback import MPS_FALLBACK_ENV, enable_mps_fallback, mps_fallback_note


def test_macos_gets_the_fallback_and_a_users_choice_is_kept() -> None:
    env: dict[str, str] = {}
    enable_mps_fallback(env, "darwin")
    assert env == {MPS_FALLBACK_ENV: "1"}
    env = {MPS_FALLBACK_ENV: "0"}
    enable_mps_fallback(env, "darwin")
    assert env == {MPS_FALLBACK_ENV: "0"}
    assert "stops with an error" in mps_fallback_note(env)


def test_other_platforms_are_left_alone() -> None:
    for platform in ("linux", "win32"):
        env: dict[str, str] = {}
        enable_mps_fallback(env, platform)
        assert env == {}


def test_importing_nerfie_recon_sets_it_before_torch_is_imported() -> None:
    script = ("import sys; sys.platform = 'darwin'\n"
              "import os, nerfie.recon\n"
              f"print(os.environ.get('{MPS_FALLBACK_ENV}'), 'torch' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k != MPS_FALLBACK_ENV}
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1", "False"]
