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
        ({"model": {"proposal_samples": [64, "x"]}}, r"model.proposal_samples\[1\]"),
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
