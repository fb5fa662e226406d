"""The ``auto`` preset sizes the model from measured step times, not from a guess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nerfie.recon.autotune import TIERS, choose, tier_config
from nerfie.recon.config import NerfieConfig, preset, with_overrides
from nerfie.recon.events import Log
from nerfie.recon.project import Project
from nerfie.recon.train import AUTOTUNE_RECORD, Trainer


def cost_model(ms_per_kilosample: float, calls: list[int] | None = None):
    """A fake machine: a step costs in proportion to the samples it shades, times a grid factor."""

    def seconds(cfg: NerfieConfig) -> float:
        if calls is not None:
            calls.append(cfg.model.hash_log2_table)
        m = cfg.model
        samples = cfg.train.rays_per_batch * (m.shaded_samples + sum(m.proposal_samples) / 4)
        return ms_per_kilosample * samples / 1000 * (m.hash_levels / 8) / 1000

    return seconds


def test_a_fast_machine_gets_the_largest_size_that_still_gets_its_steps() -> None:
    choice = choose(preset("auto"), cost_model(0.001), minutes=10)
    assert choice.tier == TIERS[-1].name
    slow = choose(preset("auto"), cost_model(1.0), minutes=10)
    assert TIERS.index(next(t for t in TIERS if t.name == slow.tier)) < len(TIERS) - 1
    for c in (choice, slow):
        picked = next(t for t in c.timings if t.name == c.tier)
        assert picked.fits and picked.steps_in_budget >= next(t for t in TIERS if t.name == c.tier).min_steps


def test_a_shorter_budget_picks_a_smaller_size_on_the_same_machine() -> None:
    machine = cost_model(2.5)  # ~80 ms for a cpu-preview step, about the 2-core build machine
    long, short = choose(preset("auto"), machine, minutes=10), choose(preset("auto"), machine, minutes=3)
    assert [t.name for t in TIERS].index(short.tier) < [t.name for t in TIERS].index(long.tier)
    assert long.tier == "cpu-preview" and short.tier == "cpu-small"


def test_timing_stops_at_the_first_size_that_does_not_fit() -> None:
    calls: list[int] = []
    choice = choose(preset("auto"), cost_model(2.5, calls), minutes=10)
    assert len(calls) == len(choice.timings) == [t.name for t in TIERS].index(choice.tier) + 2
    assert not choice.timings[-1].fits


def test_the_smallest_size_is_kept_when_nothing_fits_and_a_size_out_of_memory_ends_the_ladder() -> None:
    hopeless = choose(preset("auto"), lambda cfg: 60.0, minutes=1)
    assert hopeless.tier == TIERS[0].name and len(hopeless.timings) == 2
    # The budget buys no step at all; the schedule still plans its minimum, and the choice says so
    # (the project's record and its config must agree, on a slow machine too).
    assert hopeless.steps == hopeless.config.train.steps == 10

    def oom_above_small(cfg: NerfieConfig) -> float | None:
        return 0.001 if cfg.train.rays_per_batch <= 512 else None

    choice = choose(preset("auto"), oom_above_small, minutes=10)
    assert choice.tier == TIERS[0].name and choice.timings[-1].seconds_per_step is None


def test_the_schedule_is_scaled_to_the_steps_the_budget_buys() -> None:
    choice = choose(preset("auto"), lambda cfg: 0.05, minutes=10)
    t = choice.config.train
    assert choice.steps == int(0.9 * 600 / 0.05)
    assert t.steps == choice.steps and t.minutes == 10
    assert t.warp_anneal_steps == int(0.3 * choice.steps)
    assert 0 < t.eval_every <= t.steps and 0 < t.checkpoint_every <= t.steps


def test_settings_auto_does_not_own_stay_the_users() -> None:
    user = with_overrides(preset("auto"), {"train.elastic_weight": 0.5, "ingest.target_frames": 77,
                                           "model.warp": "translation", "model.hash_log2_table": 12})
    cfg = choose(user, lambda c: 0.05, minutes=10).config
    assert cfg.preset == "auto"
    assert (cfg.train.elastic_weight, cfg.ingest.target_frames, cfg.model.warp) == (0.5, 77, "translation")
    assert cfg.model.hash_log2_table != 12  # the grid size is auto's to pick
    assert tier_config(user, TIERS[0]).model.hash_log2_table == TIERS[0].sizes["model.hash_log2_table"]


# ---- on a real project ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nerfie.recon.synth import SynthSpec, generate

    out = tmp_path_factory.mktemp("tiny-auto")
    generate(out, SynthSpec(frames=8, width=40, height=40, heldout=0, seed=4))
    return out


def test_training_an_auto_project_times_this_machine_once_and_records_the_choice(
        tiny_capture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nerfie.recon.importers import import_transforms

    cfg = with_overrides(preset("auto"), {"train.minutes": 0.05})
    proj = import_transforms(tiny_capture / "transforms.json", tmp_path / "p", cfg)
    events: list[object] = []
    tr = Trainer(proj, events.append)
    record = json.loads((proj.root / AUTOTUNE_RECORD).read_text())
    assert record["timings"] and all(t["seconds_per_step"] > 0 for t in record["timings"])
    assert record["tier"] in [t.name for t in TIERS]
    stored = Project.load(proj.root).config
    assert stored == tr.cfg and stored.train.steps == record["steps"]
    assert any(isinstance(e, Log) and e.message.startswith("auto preset:") for e in events)
    tr.run(steps=2)
    # resuming keeps the sizes the checkpoint was trained with: no second tuning
    monkeypatch.setattr("nerfie.recon.train.choose", lambda *a, **k: pytest.fail("tuned again on resume"))
    again = Trainer(Project.load(proj.root))
    assert again.step == 2 and again.cfg.model == tr.cfg.model
