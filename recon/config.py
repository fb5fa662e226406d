"""The one configuration tree shared by the CLI, the GUI and checkpoints.

Every stage has a dataclass; :class:`NerfieConfig` holds one of each. Named presets
(``cpu-preview``, ``gpu-standard``, ``gpu-quality``) are plain instances of the tree. The tree is
written into ``project.json`` and read back *exactly*; unknown keys and wrong types are rejected
with an error naming the dotted key, because a silently ignored typo in a config file costs a user
an hour of training with the wrong settings.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from nerfie.recon.errors import ConfigError


@dataclass
class IngestConfig:
    """Video decoding and frame selection."""

    target_frames: int = 150
    min_frames: int = 30
    max_side: int = 1600  # longest side of the 1x images
    pyramid: tuple[int, ...] = (1, 2, 4, 8)
    dedupe_threshold: float = 0.004  # mean abs 32x32-thumbnail difference below which frames are duplicates
    masks: bool = True  # find the person and mask them out for SfM
    start_seconds: float = 0.0  # use the clip from here…
    end_seconds: float = 0.0  # …to here (0 = to the end)


@dataclass
class SfmConfig:
    """COLMAP (pycolmap) structure from motion."""

    camera_model: Literal["SIMPLE_RADIAL", "OPENCV", "PINHOLE", "SIMPLE_PINHOLE"] = "SIMPLE_RADIAL"
    matcher: Literal["sequential", "exhaustive"] = "sequential"
    sequential_overlap: int = 10
    max_image_size: int = 640
    max_num_features: int = 8192
    seeds: tuple[int, ...] = (0, 1, 2)
    threads: int = 0  # 0 = all available cores
    # Focal length in pixels of the full-size frames, held fixed through bundle adjustment; 0 = COLMAP
    # estimates it from its usual guess (1.2 × the longer side). Small-baseline clips pin it loosely.
    focal_px: float = 0.0


@dataclass
class ModelConfig:
    """The Nerfie: hash-grid template, deformation field, latent codes, sampling."""

    hash_levels: int = 16
    hash_features: int = 2
    hash_log2_table: int = 19
    hash_base_res: int = 16
    hash_max_res: int = 2048
    hash_backend: Literal["auto", "torch", "native", "triton", "tcnn"] = "auto"
    hash_anneal: bool = True
    density_width: int = 64
    color_width: int = 64
    warp: Literal["se3", "translation", "none"] = "se3"  # "none": a static NeRF (ablation)
    warp_width: int = 128
    warp_depth: int = 6
    warp_freqs: int = 8
    warp_code_dim: int = 8
    # "time": warp codes start on a smooth curve through time (see model.nerfie.time_codes); "glo":
    # Nerfies' U[0, 0.05) (all frames alike at the start).
    warp_code_init: Literal["time", "glo"] = "time"
    # The warp reaches this many fine-ball radii from the focus (fading out over its last quarter);
    # the room beyond stays put and costs no MLP evaluations. 0 = the warp acts everywhere (Nerfies).
    warp_reach: float = 2.0
    # How the warp sees where a point is: "posenc" (Nerfies' sinusoidal bands, windowed coarse to fine) or
    # "hashgrid" (a small multiresolution hash grid over the warp's reach, its levels windowed by the same
    # α): a limb that moves unlike the torso next to it gets features of its own, which a few sinusoids
    # through a narrow MLP cannot give it (as the fast dynamic fields do: TiNeuVox, 4D-GS).
    warp_encoding: Literal["posenc", "hashgrid"] = "posenc"
    warp_hash_levels: int = 8
    warp_hash_log2_table: int = 15
    warp_hash_max_res: int = 256
    appearance_code_dim: int = 8
    # Ambient dimensions (HyperNeRF's axis-aligned slicing, "AP"): a linear map of each frame's warp code
    # joins the template's density input, so what no deformation explains — a mouth that opens, an eye
    # that closes, a fold that appears — can change with the frame instead of blurring into an average.
    # It starts at zero (the template is static until the data asks otherwise). 0 = off, as Nerfies.
    ambient_dim: int = 0
    # Where the proposal sampler's density lives. "observation": unwarped, one field for every frame (the
    # union of all poses). Where a body moves far (D-NeRF's hook), the union's front surface occludes the
    # pose a frame actually has, the sampler puts no sample on it and the frame renders a hole that no
    # gradient can fill. "template": queried at each sample's warped point (the frame's deformation, no
    # gradient into the warp), so it learns the one canonical shape and each frame's samples follow that
    # frame's pose, as Nerfies' coarse network shares the fine one's warp. It costs a warp evaluation per
    # proposal sample, and on a selfie most proposal samples lie near the camera, within the warp's reach:
    # a rendered view costs much more there, for a head that moves too little to open such holes. So the
    # D-NeRF / Blender import sets it and the presets keep "observation" (figures: RESULTS.md, "A proposal
    # that follows the deformation").
    proposal_space: Literal["observation", "template"] = "observation"
    proposal_samples: tuple[int] = (256,)  # samples of the one proposal level (a list of one in files)
    shaded_samples: int = 48
    # What a ray that passes through everything sees: "learned" (the colour of its last sample, the far
    # shell of a room), or a fixed "white" / "black" backdrop (object captures such as D-NeRF's, whose
    # background is empty: the model then needs no matter there, so it grows no floaters to paint it).
    background: Literal["learned", "white", "black"] = "learned"
    # The ball the grids resolve finely (mapped to the grid's inner half; everything outside is contracted):
    # "cameras" reaches 0.6 of the way to the furthest camera (a selfie: the head and the arm's length
    # around it, whose surroundings are part of the picture); "object" is the subject's own ball with a
    # margin (a bounded object on an empty backdrop, e.g. D-NeRF's: nothing else is there, and a ball
    # reaching the cameras would spend most of the grid's cells on empty air around it).
    fine_ball: Literal["cameras", "object"] = "cameras"


@dataclass
class TrainConfig:
    """Optimisation schedule and losses."""

    steps: int = 20000
    minutes: float = 0.0  # wall-clock budget; 0 = none, steps decide
    rays_per_batch: int = 4096
    lr: float = 1e-2
    lr_final: float = 1e-4
    lr_cooldown: float = 0.0  # last fraction of the schedule over which lr falls from lr_final a further 10x
    warp_lr: float = 1e-3
    warp_anneal_steps: int = 8000  # window α rises 0 → warp_freqs over these steps
    hash_start_levels: int = 4  # with model.hash_anneal: levels on at step 0, all on at warp_anneal_steps
    max_image_side: int = 1024  # train on the pyramid level whose long side fits this
    background_points: int = 4096  # background-loss points per step
    # Share of each batch's rays drawn from subject-mask pixels (the rest uniformly over all pixels). An object
    # on an empty backdrop fills a fifth of the frame, and uniform rays spend most of a short budget on the
    # backdrop. Measured on D-NeRF hook (RESULTS.md): 0.5 gives a sharper object but a haze of floaters over
    # the backdrop, which costs more than it gains; so 0 = uniform (every pixel weighs the same, as Nerfies).
    subject_ray_fraction: float = 0.0
    # How far past the mask's edge that subject pool reaches, as a fraction of the image's long side: the
    # backdrop right beside the subject is where haze grows, so it is drawn as often as the subject.
    subject_ray_margin: float = 0.04
    # How the rest of each batch's rays are drawn: "uniform" over every training pixel (Nerfies), or "error":
    # a share in proportion to a coarse map of each image's recent error (instant-ngp's error map, see
    # recon.error_map), so the rays follow what the model still gets wrong; ``error_uniform_fraction`` of
    # them stay uniform, and the map's cells are ``error_map_cell`` pixels square at the training size.
    # The presets keep "uniform": on a selfie the map raises held-out PSNR but renders the face and the wall
    # grainy and loses the wall's detail, and novel views of the synthetic captures fall a little
    # (RESULTS.md, "Error-map rays on the selfie presets"). The D-NeRF / Blender import turns it on.
    ray_sampling: Literal["uniform", "error"] = "uniform"
    error_uniform_fraction: float = 0.25
    error_map_cell: int = 8
    # Whether the per-frame warp and appearance codes are learnt (Nerfies) or stay where they start (warp
    # codes on the smooth time curve: the warp becomes a smooth function of time, as D-NeRF's).
    learn_codes: bool = True
    elastic_weight: float = 1e-3
    background_weight: float = 1e-1
    # Weight of the opacity loss, mean (accumulated opacity − subject mask)², on object captures whose
    # backdrop is fixed (``model.background`` white / black) and whose masks are exact (D-NeRF's alpha):
    # matter the colour of the backdrop costs nothing in the photometric loss, so without it the model
    # grows white haze that shows as soon as it sits in front of the object from another view. Off for
    # selfies: their mask is the person, not everything opaque.
    opacity_weight: float = 0.0
    device: Literal["auto", "cuda", "mps", "cpu"] = "auto"
    mixed_precision: bool = True  # bfloat16 autocast of the MLPs on CUDA (see Trainer.autocast)
    checkpoint_every: int = 1000
    eval_every: int = 1000
    seed: int = 0


@dataclass
class RenderConfig:
    """Turntable / camera-path video export."""

    path: Literal["turntable", "orbit-mild", "input", "keyframes"] = "orbit-mild"
    seconds: float = 6.0
    fps: int = 30
    long_side: int = 1080
    time_mode: Literal["frozen", "play", "bounce"] = "play"
    frozen_frame: int = 0
    chunk_rays: int = 65536  # rays rendered at once (lower it if a large export runs out of memory)
    # Render with ¾ of the proposal and ⅔ of the shaded samples (the viewer's budget): ~1.5x faster for
    # ~0.1 dB on the sample project. On for the CPU preset, where rendering dominates the run time.
    fast_samples: bool = False


@dataclass
class NerfieConfig:
    """The whole tree, as stored in ``project.json`` and checkpoints."""

    preset: str = "gpu-standard"
    ingest: IngestConfig = field(default_factory=IngestConfig)
    sfm: SfmConfig = field(default_factory=SfmConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    render: RenderConfig = field(default_factory=RenderConfig)


def _cpu_preview() -> NerfieConfig:
    return NerfieConfig(
        preset="cpu-preview",
        ingest=IngestConfig(target_frames=100, max_side=960),
        model=ModelConfig(
            hash_levels=8, hash_log2_table=17, hash_max_res=2048, density_width=32, color_width=32,
            warp_width=64, warp_depth=4, warp_freqs=6, proposal_samples=(32,), shaded_samples=24,
        ),
        train=TrainConfig(
            # lr_final 3e-3, not 1e-4: a schedule this short spent most of its steps at a learning rate
            # too low for the hash tables (measured: 3 min static capture 30.1 → 32.6 dB novel views).
            # The last 15 % falls a further 10x (lr_cooldown): the end of a run at 3e-3 is noisy (measured, 3 min:
            # static 31.80 → 32.05, dynamic 28.56 → 29.04 dB novel views).
            steps=5000, minutes=10.0, rays_per_batch=1024, lr_final=3e-3, lr_cooldown=0.15, warp_lr=3e-3,
            warp_anneal_steps=1500,
            max_image_side=256, background_points=512, mixed_precision=False, checkpoint_every=250, eval_every=500,
        ),
        render=RenderConfig(long_side=512, fast_samples=True),
    )


def _gpu_standard() -> NerfieConfig:
    return NerfieConfig(preset="gpu-standard")


def _gpu_quality() -> NerfieConfig:
    return NerfieConfig(
        preset="gpu-quality",
        model=ModelConfig(hash_log2_table=20, hash_max_res=4096, density_width=128, color_width=128),
        train=TrainConfig(steps=60000, rays_per_batch=8192, warp_anneal_steps=20000),
    )


AUTO_PRESET = "auto"
AUTO_DEFAULT_MINUTES = 10.0  # the budget ``auto`` fits when none is given


def _auto() -> NerfieConfig:
    """Stored form before tuning (see recon.autotune): cpu-preview's settings and a 10-minute budget; the
    trainer times a ladder of sizes on first use and writes the one it picks back into the project."""
    cfg = _cpu_preview()
    cfg.preset = AUTO_PRESET
    cfg.train.minutes = AUTO_DEFAULT_MINUTES
    return cfg


PRESETS: dict[str, typing.Callable[[], NerfieConfig]] = {
    "cpu-preview": _cpu_preview,
    "gpu-standard": _gpu_standard,
    "gpu-quality": _gpu_quality,
    AUTO_PRESET: _auto,
}

PRESET_DESCRIPTIONS: dict[str, str] = {
    "cpu-preview": "Small grid and few steps: a recognisable preview in ~10 minutes on a laptop CPU.",
    "gpu-standard": "Paper-sized hash grid (16x2, 2^19); a few minutes on one modern GPU.",
    "gpu-quality": "Larger grid and longer schedule for the final video.",
    AUTO_PRESET: "Times a few training steps on this machine and picks the grid, rays and samples that fit "
            "the time budget (10 minutes unless set).",
}


def preset(name: str) -> NerfieConfig:
    """A fresh copy of the named preset."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise ConfigError(
            f"Unknown preset {name!r}.", f"Choose one of: {', '.join(PRESETS)}."
        ) from None


# --------------------------------------------------------------------------------------------
# (de)serialisation


def to_dict(cfg: Any) -> dict[str, Any]:
    """The config as JSON-ready nested dicts (tuples become lists)."""

    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, tuple | list):
            return [conv(x) for x in v]
        return v

    return conv(cfg)


def from_dict(cls: type[Any], data: Any, path: str = "") -> Any:
    """Build ``cls`` from ``data`` strictly; missing keys take defaults, unknown keys are errors."""
    where = path or "config"
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be an object, got {type(data).__name__}.", "Fix the config file.")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        key = f"{path}.{unknown[0]}" if path else unknown[0]
        raise ConfigError(
            f"Unknown config key {key!r}.", f"Valid keys here: {', '.join(sorted(names))}."
        )
    kwargs = {}
    for name, value in data.items():
        key = f"{path}.{name}" if path else name
        kwargs[name] = _coerce(hints[name], value, key)
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(
                f"Config key {key!r} is {value!r}; it must be one of {', '.join(map(repr, allowed))}."
            )
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in typing.get_args(tp):
            if arg is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(arg, value, key)
            except ConfigError as exc:
                errors.append(exc)
        raise ConfigError(f"Config key {key!r} has the wrong type ({type(value).__name__}).")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"Config key {key!r} must be a list, got {type(value).__name__}.")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"Config key {key!r} must have {len(args)} items, got {len(value)}.")
        return tuple(_coerce(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"Config key {key!r} must be true or false, got {value!r}.")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"Config key {key!r} must be an integer, got {value!r}.")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"Config key {key!r} must be a number, got {value!r}.")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"Config key {key!r} must be a string, got {value!r}.")
        return value
    raise ConfigError(f"Config key {key!r} has an unsupported type {tp!r}.")  # pragma: no cover


# Keys older projects may hold that no longer mean anything: dropped when a stored config is read.
RETIRED_KEYS = {"sfm": ("image_scale", "min_registered_fraction")}


def migrate_stored(data: Any) -> Any:
    """A config as an older version stored it → today's: retired keys dropped, and the second
    proposal level (never used: the model has one) cut off."""
    if not isinstance(data, dict):
        return data
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for section, keys in RETIRED_KEYS.items():
        for key in keys:
            if isinstance(out.get(section), dict):
                out[section].pop(key, None)
    model = out.get("model")
    if isinstance(model, dict) and isinstance(model.get("proposal_samples"), list | tuple):
        model["proposal_samples"] = list(model["proposal_samples"])[:1]
    return out


def config_from_dict(data: Any, stored: bool = False) -> NerfieConfig:
    """Read a whole :class:`NerfieConfig` strictly; ``stored`` (a project's or a checkpoint's own
    copy, written by an older version perhaps) is migrated first."""
    return from_dict(NerfieConfig, migrate_stored(data) if stored else data)


def with_overrides(cfg: NerfieConfig, overrides: dict[str, Any]) -> NerfieConfig:
    """Apply ``{"train.steps": 500, ...}`` dotted overrides, validated like a file."""
    data = to_dict(cfg)
    for dotted, value in overrides.items():
        node = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"Unknown config key {dotted!r}.")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"Unknown config key {dotted!r}.")
        node[parts[-1]] = value
    return config_from_dict(data)
