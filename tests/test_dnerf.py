"""D-NeRF / Blender-layout import and `nerfie eval`, on a small capture in that layout the tests make.

The capture (``tests/dnerf_layout.py``) is the synthetic person as an object: RGBA renders with a clear
background, three splits whose times interleave, ``camera_angle_x``, ``file_path`` without ``.png``.
The real scenes (``../shared/data/dnerf_*``) are imported and scored by a slow test when present.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from dnerf_layout import make_dnerf_capture

from nerfie.app.cli import main
from nerfie.recon.config import preset, with_overrides
from nerfie.recon.dataset import load_dataset
from nerfie.recon.errors import NerfieError
from nerfie.recon.importers import detect_dataset, import_dataset
from nerfie.recon.model.nerfie import NerfieModel

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TINY = {"train.rays_per_batch": 256, "model.proposal_samples": [16], "model.shaded_samples": 12,
        "train.checkpoint_every": 0, "train.eval_every": 0, "train.minutes": 0.0}


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("dnerf")
    facts = make_dnerf_capture(root / "scene", size=128)
    return root / "scene", facts


@pytest.fixture(scope="module")
def project(capture: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    src, _ = capture
    return import_dataset(src, tmp_path_factory.mktemp("dnerf-proj") / "p", preset("cpu-preview")).root


def test_the_layout_is_recognised_and_imported_at_half_resolution_on_white(capture: tuple[Path, dict],
                                                                           project: Path) -> None:
    src, _ = capture
    assert detect_dataset(src) == "blender"
    ds = load_dataset(project)
    assert (ds.cameras[0].width, ds.cameras[0].height) == (64, 64)  # half of 128², as D-NeRF's configs
    rgba = cv2.imread(str(src / "train" / "r_000.png"), cv2.IMREAD_UNCHANGED)
    clear = cv2.resize(rgba, (64, 64), interpolation=cv2.INTER_AREA)[..., 3] == 0
    frame = cv2.imread(str(project / "frames" / ds.names[0]))
    assert clear.any() and (frame[clear] >= 254).all()  # where the render is clear: the white backdrop
    mask = cv2.imread(str(project / "masks" / ds.names[0]), cv2.IMREAD_GRAYSCALE)
    assert ((mask < 128) == ~clear).mean() > 0.95  # the object's mask is the alpha
    from nerfie.recon.project import Project

    config = Project.load(project).config
    assert config.model.background == "white"  # recorded: the model renders it
    assert config.train.max_image_side >= 64  # trained at the size it is scored at


def test_the_splits_and_times_are_kept_and_the_test_views_are_never_trained_on(capture: tuple[Path, dict],
                                                                              project: Path) -> None:
    _, facts = capture
    ds = load_dataset(project)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (facts["splits"]["train"], facts["splits"]["val"],
                                                          facts["splits"]["test"])
    assert not set(ds.test) & set(ds.train) and not set(ds.val) & set(ds.train)
    times = {s: sorted(ds.code_times[ds.time_ids[i]] for i in idx)  # type: ignore[index]
             for s, idx in (("train", ds.train), ("val", ds.val), ("test", ds.test))}
    for split, expected in facts["times"].items():
        assert np.allclose(times[split], sorted(expected), atol=1e-9)
    from nerfie.recon.train import load_train_data

    data = load_train_data(ds, 1024, torch.device("cpu"))
    assert set(data.train) == set(ds.train)  # training rays come from the train split only


def test_the_object_is_the_subject_estimate(capture: tuple[Path, dict], project: Path) -> None:
    ds = load_dataset(project)
    centre, radius = ds.subject_center, ds.subject_radius
    assert ds.subject_source.startswith("object masks")
    for cam, name in zip(ds.cameras, ds.names, strict=True):
        assert cam.forward @ (centre - cam.position) > radius  # in front of every camera, clear of it
        obj = cv2.imread(str(project / "masks" / name), cv2.IMREAD_GRAYSCALE) < 128
        ys, xs = np.nonzero(obj)
        rays_o, rays_d = cam.pixels_to_rays(torch.tensor(np.stack([xs + 0.5, ys + 0.5], 1), dtype=torch.float64))
        to_centre = centre - rays_o.numpy()
        along = (to_centre * rays_d.numpy()).sum(1, keepdims=True)
        miss = np.linalg.norm(to_centre - along * rays_d.numpy(), axis=1)
        assert (miss <= radius * 1.001).all()  # every object pixel's ray passes through the object's ball


def _drawn_pixels(trainer: object, batches: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """The (image, pixel) of every ray ``batches`` training batches asked the cameras for."""
    drawn: list[tuple[torch.Tensor, torch.Tensor]] = []
    cams = trainer.data.cameras  # type: ignore[attr-defined]
    rays = cams.rays
    cams.rays = lambda img, px: (drawn.append((img, px)), rays(img, px))[1]
    for _ in range(batches):
        trainer.sample_batch()  # type: ignore[attr-defined]
    return torch.cat([i for i, _ in drawn]), torch.cat([p for _, p in drawn]).long()


def test_an_object_project_resolves_the_object_and_can_draw_half_its_rays_on_it(project: Path,
                                                                               tmp_path: Path) -> None:
    """On an empty backdrop the grids' fine ball is the object's own (not the way to the cameras); with
    ``train.subject_ray_fraction`` 0.5, half of each batch comes from the training images' object pixels
    (the rest uniform, the backdrop included), and with 0 (the default) every pixel is as likely."""
    import shutil

    from nerfie.recon.project import Project
    from nerfie.recon.sfm.normalize import fine_ball_radius
    from nerfie.recon.train import OBJECT_BALL_MARGIN, Trainer

    copy = tmp_path / "p"
    shutil.copytree(project, copy)
    proj = Project.load(copy)
    assert proj.config.model.fine_ball == "object" and proj.config.train.subject_ray_fraction == 0.0
    # one view per moment of an object in a fixed light: no appearance codes, warp codes on their time curve
    assert proj.config.model.appearance_code_dim == 0 and not proj.config.train.learn_codes
    # a body moving across its own earlier place: the sampler follows the deformation
    assert proj.config.model.proposal_space == "template"
    proj.config = with_overrides(proj.config, {**TINY, "train.subject_ray_fraction": 0.5,
                                               "train.subject_ray_margin": 0.0, "train.ray_sampling": "uniform"})
    proj.save()
    trainer = Trainer(proj)
    ds = load_dataset(copy)
    focus, radius = ds.subject()
    assert float(trainer.model.template.radius) == pytest.approx(OBJECT_BALL_MARGIN * radius)
    assert OBJECT_BALL_MARGIN * radius < 0.6 * fine_ball_radius(ds.normalized_cameras(), focus)

    masks = trainer.data.subject_masks
    assert masks is not None
    img, px = _drawn_pixels(trainer)
    on_object = float(masks[img, px[:, 1], px[:, 0]].float().mean())
    coverage = float(masks[ds.train].float().mean())
    assert set(img.tolist()) <= set(ds.train)  # never a test or val view
    assert on_object == pytest.approx(0.5 + 0.5 * coverage, abs=0.03)  # half drawn on it, half uniform

    proj.config = with_overrides(proj.config, {"train.subject_ray_fraction": 0.0})
    proj.save()
    img, px = _drawn_pixels(Trainer(proj))
    assert float(masks[img, px[:, 1], px[:, 0]].float().mean()) == pytest.approx(coverage, abs=0.03)


def test_the_subject_ray_pool_reaches_a_margin_past_the_silhouette(project: Path, tmp_path: Path) -> None:
    """With ``train.subject_ray_margin`` m, the half of the batch drawn on the subject comes from the
    subject and the backdrop within m · the long side of it: the backdrop beside the silhouette, where
    haze grows, gets rays as often as the subject does."""
    import shutil

    import cv2
    import numpy as np

    from nerfie.recon.project import Project
    from nerfie.recon.train import Trainer

    copy = tmp_path / "p"
    shutil.copytree(project, copy)
    proj = Project.load(copy)
    proj.config = with_overrides(proj.config, {**TINY, "train.subject_ray_fraction": 0.5,
                                               "train.subject_ray_margin": 0.1, "train.ray_sampling": "uniform"})
    proj.save()
    trainer = Trainer(proj)
    ds = load_dataset(copy)
    masks = trainer.data.subject_masks
    assert masks is not None
    r = 0.1 * max(masks.shape[1:])
    # distance of every pixel to the nearest subject pixel, per image
    dist = torch.from_numpy(np.stack([cv2.distanceTransform((~m.numpy()).astype(np.uint8), cv2.DIST_L2, 5)
                                      for m in masks]))
    near = dist <= r
    img, px = _drawn_pixels(trainer)
    drawn_near = float(near[img, px[:, 1], px[:, 0]].float().mean())
    drawn_on = float(masks[img, px[:, 1], px[:, 0]].float().mean())
    near_coverage = float(near[ds.train].float().mean())
    coverage = float(masks[ds.train].float().mean())
    assert near_coverage > coverage + 0.05  # the margin is a real band on this capture
    assert drawn_near == pytest.approx(0.5 + 0.5 * near_coverage, abs=0.04)
    assert drawn_on < 0.5 + 0.5 * coverage - 0.05  # part of the subject half now lands beside it


def test_the_opacity_loss_pulls_each_rays_opacity_to_the_objects_mask_on_a_fixed_backdrop(project: Path,
                                                                                       tmp_path: Path) -> None:
    """With ``train.opacity_weight`` w on an object capture (white backdrop, alpha masks), a step's losses
    hold w · mean((opacity − mask)²) over the batch's rays, the mask read at each ray's own pixel; a
    learned backdrop (a selfie's room) has no such term, whatever the weight."""
    import shutil

    from nerfie.recon.project import Project
    from nerfie.recon.train import Trainer

    copy = tmp_path / "p"
    shutil.copytree(project, copy)
    proj = Project.load(copy)
    proj.config = with_overrides(proj.config, {**TINY, "train.opacity_weight": 0.25})
    proj.save()
    trainer = Trainer(proj)
    drawn: list[tuple[torch.Tensor, torch.Tensor]] = []
    rays = trainer.data.cameras.rays
    trainer.data.cameras.rays = lambda img, px: (drawn.append((img, px)), rays(img, px))[1]
    rendered: list[dict[str, torch.Tensor]] = []
    render = trainer.model.render
    trainer.model.render = lambda *a, **k: (out := render(*a, **k), rendered.append(out))[0]
    losses = trainer.losses(0)
    (img, px), acc = drawn[0], rendered[0]["acc"]
    px = px.long()
    mask = trainer.data.subject_masks[img, px[:, 1], px[:, 0]].float()
    assert 0 < float(mask.mean()) < 1  # the batch holds object and backdrop rays
    expected = 0.25 * float(((acc.detach() - mask) ** 2).mean())
    assert float(losses["opacity"].detach()) == pytest.approx(expected, rel=1e-5)

    proj.config = with_overrides(proj.config, {"model.background": "learned"})
    proj.save()
    assert "opacity" not in Trainer(proj).losses(0)


def test_codes_can_be_held_on_their_time_curve(project: Path, tmp_path: Path) -> None:
    """``train.learn_codes`` false: the warp codes stay on the smooth time curve they start on (the warp a
    function of time, as D-NeRF's) and the appearance codes stay put; the warp itself still learns.
    Learnt (the default), a step moves the codes of the frames it drew."""
    import shutil

    from nerfie.recon.project import Project
    from nerfie.recon.train import Trainer

    copy = tmp_path / "p"
    shutil.copytree(project, copy)
    proj = Project.load(copy)
    for learn in (False, True):
        proj.config = with_overrides(proj.config, {**TINY, "train.learn_codes": learn, "model.appearance_code_dim": 8})
        proj.save()
        trainer = Trainer(proj)
        m = trainer.model
        before = [t.detach().clone() for t in (m.warp_codes.weight, m.appearance_codes.weight,
                                                next(m.warp.parameters()))]
        for _ in range(2):
            trainer.train_step()
        after = (m.warp_codes.weight, m.appearance_codes.weight, next(m.warp.parameters()))
        moved = [not torch.equal(a, b) for a, b in zip(before, after, strict=True)]
        assert moved == [learn, learn, True]


def test_black_and_full_resolution_are_choices(capture: tuple[Path, dict], tmp_path: Path) -> None:
    src, _ = capture
    proj = import_dataset(src, tmp_path / "b", preset("cpu-preview"), background="black", half_res=False)
    ds = load_dataset(proj.root)
    assert ds.cameras[0].width == 128 and proj.config.model.background == "black"
    rgba = cv2.imread(str(src / "train" / "r_000.png"), cv2.IMREAD_UNCHANGED)
    assert (cv2.imread(str(proj.root / "frames" / ds.names[0]))[rgba[..., 3] == 0] <= 1).all()


def test_a_code_between_trained_times_is_blended_by_time() -> None:
    cfg = preset("cpu-preview").model
    model = NerfieModel(cfg, 3)
    with torch.no_grad():
        model.warp_codes.weight.copy_(torch.tensor([[0.0] * cfg.warp_code_dim, [9.0] * cfg.warp_code_dim,
                                                    [1.0] * cfg.warp_code_dim]))
    model.fill_untrained_codes([0, 2], times=[0.0, 0.1, 1.0])  # code 1 sits at a tenth of the way
    assert torch.allclose(model.warp_codes.weight[1], torch.full((cfg.warp_code_dim,), 0.1))


def test_a_white_backdrop_is_what_an_empty_ray_shows() -> None:
    from nerfie.recon.model.rendering import composite

    rgb = torch.rand(4, 8, 3)
    empty = torch.zeros(4, 8)
    t = torch.linspace(0, 1, 8).expand(4, 8)
    assert torch.allclose(composite(rgb, empty, t, "white")["rgb"], torch.ones(4, 3))
    assert torch.allclose(composite(rgb, empty, t, "black")["rgb"], torch.zeros(4, 3))
    assert torch.allclose(composite(rgb, empty, t, "learned")["rgb"], rgb[:, -1])


def test_eval_scores_the_test_views_at_their_own_cameras_and_times(project: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from nerfie.recon.project import Project
    from nerfie.recon.train import Trainer
    from nerfie.render.evaluate import evaluate_split
    from nerfie.render.scene import load_scene

    proj = Project.load(project)
    proj.config = with_overrides(proj.config, TINY)
    proj.save()
    Trainer(proj).run(steps=5)
    assert main(["eval", str(project), "--split", "test", "-q"]) == 0
    record = json.loads((project / "eval.json").read_text())
    ds = load_dataset(project)
    assert record["split"] == "test" and record["views"] == len(ds.test) == len(record["per_view"])
    assert record["resolution"] == [64, 64] and "skipped" in record["lpips"]  # nothing downloaded
    assert {v["frame"] for v in record["per_view"]} == {ds.names[i] for i in ds.test}
    pair = cv2.imread(str(project / record["images"] / ds.names[ds.test[0]]))
    assert pair.shape == (64, 128, 3)  # the image and the render side by side, to look at
    assert np.abs(pair[:, :64].astype(int) - cv2.imread(str(project / "frames" / ds.names[ds.test[0]]))).max() <= 1
    assert "test: 3 views at 64×64" in capsys.readouterr().out
    assert main(["info", str(project), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["eval"]["mean"]["psnr"] == pytest.approx(record["mean"]["psnr"])

    # A perfect renderer scores the cap; a flat grey one scores each view's own PSNR, then their mean.
    scene = load_scene(project, "cpu")
    asked: list[tuple[int, float]] = []

    def truth(cam, time, chunk=4096, samples=None):  # type: ignore[no-untyped-def]
        k = next(i for i, c in enumerate(scene.cameras) if np.allclose(c.position, cam.position))
        asked.append((k, time))
        img = cv2.cvtColor(cv2.imread(str(project / "frames" / ds.names[k])), cv2.COLOR_BGR2RGB)
        return {"rgb": torch.from_numpy(img).float() / 255}

    scene.render = truth  # type: ignore[method-assign]
    perfect = evaluate_split(scene, "test", write=False)
    assert perfect["mean"]["psnr"] >= 99 and perfect["mean"]["ssim"] == pytest.approx(1.0)
    assert sorted(asked) == sorted((i, float(ds.time_ids[i])) for i in ds.test)  # own camera, own time
    gray = torch.full((64, 64, 3), 0.5)
    scene.render = lambda cam, time, **kw: {"rgb": gray}  # type: ignore[method-assign]
    off = evaluate_split(scene, "test", write=False)
    frames = [torch.from_numpy(cv2.cvtColor(cv2.imread(str(project / "frames" / ds.names[i])),
                                            cv2.COLOR_BGR2RGB)).float() / 255 for i in ds.test]
    expected = np.mean([-10 * np.log10(float(((gray - f) ** 2).mean())) for f in frames])
    assert off["mean"]["psnr"] == pytest.approx(expected, abs=1e-4)  # per-view PSNR, then the mean


def test_eval_of_a_split_the_project_lacks_says_what_to_use(tmp_path: Path) -> None:
    from nerfie.recon.importers import import_transforms
    from nerfie.recon.synth import SynthSpec, generate
    from nerfie.recon.train import Trainer

    generate(tmp_path / "cap", SynthSpec(frames=6, width=32, height=32, heldout=0, seed=1))
    proj = import_transforms(tmp_path / "cap" / "transforms.json", tmp_path / "p",
                             with_overrides(preset("cpu-preview"), TINY))
    Trainer(proj).run(steps=2)
    with pytest.raises(NerfieError, match="no test views"):
        from nerfie.render.evaluate import evaluate_split
        from nerfie.render.scene import load_scene

        evaluate_split(load_scene(proj.root, "cpu"), "test")


def test_the_train_split_scores_a_spread_of_views_the_model_trained_on() -> None:
    from types import SimpleNamespace

    from nerfie.render.evaluate import TRAIN_SAMPLE, split_indices

    train = [i for i in range(100) if i % 20 != 10]  # every 20th frame held out, as processing does
    scene = SimpleNamespace(dataset=SimpleNamespace(train=train, val=[10, 30, 50, 70, 90], test=[]))
    picked = split_indices(scene, "train")  # type: ignore[arg-type]
    assert len(picked) == TRAIN_SAMPLE and set(picked) <= set(train)
    assert picked[0] == train[0] and picked[-1] == train[-1]  # from the first frame to the last
    assert max(np.diff(picked)) <= 2 * len(train) / (TRAIN_SAMPLE - 1)  # evenly spread, not bunched
    few = SimpleNamespace(dataset=SimpleNamespace(train=[3, 4], val=[], test=[]))
    assert split_indices(few, "train") == [3, 4]  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize("scene", ["hook", "mutant"])
def test_the_real_dnerf_scenes_import_and_score_their_20_test_views(scene: str, tmp_path: Path) -> None:
    src = SHARED / f"dnerf_{scene}"
    if not src.exists():
        pytest.skip(f"{src} is absent (the D-NeRF scenes are not shipped with Nerfie)")
    proj = import_dataset(src, tmp_path / scene, with_overrides(preset("cpu-preview"), TINY))
    ds = load_dataset(proj.root)
    assert len(ds.test) == 20 and ds.cameras[0].width == 400
    from nerfie.recon.train import Trainer

    Trainer(proj).run(steps=5)
    assert main(["eval", str(proj.root), "-q"]) == 0
    assert json.loads((proj.root / "eval.json").read_text())["views"] == 20


def test_error_sampling_moves_the_rays_onto_what_the_model_gets_wrong(project: Path, tmp_path: Path) -> None:
    """With ``train.ray_sampling = "error"`` (what the import sets), once the white backdrop is learnt most
    rays go to the object, which the model is still learning, while a quarter stay uniform over every
    training pixel. "uniform" (the presets') draws every pixel alike (see the subject-ray test above)."""
    import shutil

    from nerfie.recon.project import Project
    from nerfie.recon.train import Trainer

    copy = tmp_path / "p"
    shutil.copytree(project, copy)
    proj = Project.load(copy)
    assert proj.config.train.ray_sampling == "error" and preset("cpu-preview").train.ray_sampling == "uniform"
    proj.config = with_overrides(proj.config, {**TINY, "train.error_uniform_fraction": 0.25})
    proj.save()
    trainer = Trainer(proj)
    masks = trainer.data.subject_masks
    assert masks is not None and trainer.error_map is not None
    train = load_dataset(copy).train
    coverage = float(masks[train].float().mean())
    for _ in range(60):
        trainer.train_step()
    img, px = _drawn_pixels(trainer)
    assert set(img.tolist()) <= set(train)  # never a test or val view
    on_object = float(masks[img, px[:, 1], px[:, 0]].float().mean())
    assert coverage < 0.35 and on_object > 0.25 * coverage + 0.75 * 0.6
