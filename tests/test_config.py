"""The config tree: presets, exact JSON round trips, and errors that name the key."""

from __future__ import annotations

import json

import pytest

from nerfie.recon.config import (
    PRESETS,
    NerfieConfig,
    config_from_dict,
    preset,
    to_dict,
    with_overrides,
)
from nerfie.recon.errors import ConfigError


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_round_trips_through_json_exactly(name: str) -> None:
    cfg = preset(name)
    assert cfg.preset == name
    text = json.dumps(to_dict(cfg))
    back = config_from_dict(json.loads(text))
    assert back == cfg
    assert isinstance(back.model.proposal_samples, tuple)


def test_presets_differ_where_hardware_differs() -> None:
    cpu, gpu = preset("cpu-preview"), preset("gpu-standard")
    assert cpu.model.hash_log2_table < gpu.model.hash_log2_table
    assert cpu.train.rays_per_batch < gpu.train.rays_per_batch
    assert cpu.render.long_side == 512 and gpu.render.long_side == 1080
    assert preset("gpu-quality").train.steps > gpu.train.steps


def test_missing_keys_take_defaults() -> None:
    cfg = config_from_dict({"train": {"steps": 7}})
    assert cfg.train.steps == 7
    assert cfg.model == NerfieConfig().model


def test_unknown_key_is_rejected_naming_the_dotted_key() -> None:
    with pytest.raises(ConfigError, match=r"'train\.stepz'"):
        config_from_dict({"train": {"stepz": 10}})
    with pytest.raises(ConfigError, match="'colour'"):
        config_from_dict({"colour": {}})


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"train": {"steps": "many"}}, "train.steps"),
        ({"train": {"steps": 1.5}}, "train.steps"),
        ({"train": {"steps": True}}, "train.steps"),
        ({"train": {"lr": "fast"}}, "train.lr"),
        ({"ingest": {"masks": 1}}, "ingest.masks"),
        ({"sfm": {"matcher": "vocab"}}, "sfm.matcher"),
        ({"model": {"proposal_samples": ["x"]}}, r"model.proposal_samples\[0\]"),
        ({"model": {"proposal_samples": [64, 32]}}, r"model.proposal_samples' must have 1 items"),
        ({"render": 5}, "render"),
    ],
)
def test_wrong_types_are_rejected_naming_the_key(data: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        config_from_dict(data)


def test_integers_are_accepted_for_floats() -> None:
    assert config_from_dict({"train": {"lr": 1}}).train.lr == 1.0


def test_dotted_overrides_are_validated() -> None:
    cfg = with_overrides(preset("cpu-preview"), {"train.steps": 10, "render.fps": 24})
    assert cfg.train.steps == 10 and cfg.render.fps == 24
    with pytest.raises(ConfigError, match=r"train\.nope"):
        with_overrides(cfg, {"train.nope": 1})


def test_unknown_preset_lists_the_choices() -> None:
    with pytest.raises(ConfigError) as err:
        preset("turbo")
    assert "cpu-preview" in err.value.advice


def test_a_project_stored_by_an_older_version_still_loads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Retired keys are dropped and the unused second proposal level is cut off — on stored configs
    only: a user who sets them now gets the error above; a config stored before ``proposal_space`` keeps
    its unwarped proposal."""
    from nerfie.recon.config import to_dict
    from nerfie.recon.fileio import read_json, write_json_atomic
    from nerfie.recon.project import Project

    proj = Project.create(tmp_path / "p", preset("cpu-preview"))
    data = read_json(proj.path("project.json"))
    data["config"]["sfm"].update(image_scale=4, min_registered_fraction=0.6)
    data["config"]["model"]["proposal_samples"] = [32, 96]
    write_json_atomic(proj.path("project.json"), data)
    del data["config"]["model"]["proposal_space"]  # stored before the key: its proposal was unwarped
    write_json_atomic(proj.path("project.json"), data)
    back = Project.load(proj.root).config
    assert back.model.proposal_samples == (32,)
    assert back.model.proposal_space == "observation"
    assert "image_scale" not in to_dict(back)["sfm"]
    with pytest.raises(ConfigError, match="image_scale"):
        config_from_dict(data["config"])


def test_every_config_key_is_read_by_the_code() -> None:
    """A key that is validated but never read is a setting that silently does nothing."""
    import dataclasses
    import re
    from pathlib import Path

    from nerfie.recon.config import NerfieConfig

    root = Path(__file__).resolve().parents[1]
    code = "\n".join(p.read_text(encoding="utf-8") for folder in ("recon", "render", "app")
                     for p in (root / folder).rglob("*.py") if p.name != "config.py")
    unread = []
    defaults = NerfieConfig()
    for section in dataclasses.fields(NerfieConfig):
        value = getattr(defaults, section.name)
        if not dataclasses.is_dataclass(value):
            continue  # a top-level scalar (the preset's name)
        for f in dataclasses.fields(value):
            if not re.search(rf"\.{f.name}\b|[\"']{section.name}\.{f.name}[\"']", code):
                unread.append(f"{section.name}.{f.name}")
    assert not unread, f"config keys nothing reads: {unread}"
