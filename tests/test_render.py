"""Camera paths, time modes, camera-path JSON and MP4 export of a trained scene."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from nerfie.recon.config import preset, with_overrides
from nerfie.recon.errors import NerfieError
from nerfie.render.dataparser import DataparserTransform
from nerfie.render.export import RenderSpec, camera_path_json, export, frames_from_camera_path, plan, to_uint8
from nerfie.render.paths import frame_times, make_path
from nerfie.render.scene import TrainedScene, load_scene


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> TrainedScene:
    from nerfie.recon.importers import import_transforms
    from nerfie.recon.synth import SynthSpec, generate
    from nerfie.recon.train import Trainer

    root = tmp_path_factory.mktemp("render")
    generate(root / "cap", SynthSpec(frames=10, width=48, height=40, heldout=0, seed=5))
    cfg = with_overrides(preset("cpu-preview"), {
        "train.rays_per_batch": 256, "model.proposal_samples": [16], "model.shaded_samples": 12,
        "train.checkpoint_every": 0, "train.eval_every": 0, "train.minutes": 0.0})
    proj = import_transforms(root / "cap" / "transforms.json", root / "proj", cfg)
    Trainer(proj).run(steps=30)
    return load_scene(proj.root)


def angle_to_target(cam, target: np.ndarray) -> float:
    to = (target - cam.position) / np.linalg.norm(target - cam.position)
    return math.degrees(math.acos(min(1.0, float(cam.forward @ to))))


def test_turntable_looks_at_the_subject_at_constant_radius_and_closes(scene: TrainedScene) -> None:
    cams = make_path("turntable", scene.cameras, scene.focus, scene.up, 36, 64)
    assert max(angle_to_target(c, scene.focus) for c in cams) < 0.1
    up = scene.up
    radii = [np.linalg.norm((c.position - scene.focus) - ((c.position - scene.focus) @ up) * up) for c in cams]
    assert np.ptp(radii) < 1e-9 * max(radii) + 1e-12
    steps = [np.linalg.norm(cams[(k + 1) % 36].position - cams[k].position) for k in range(36)]
    assert np.ptp(steps) < 1e-9  # including the step from the last frame back to the first: the loop closes


def test_orbit_mild_stays_within_the_span_of_the_input_cameras(scene: TrainedScene) -> None:
    cams = make_path("orbit-mild", scene.cameras, scene.focus, scene.up, 24, 64)
    centers = np.stack([c.position for c in scene.cameras])
    mean = centers.mean(0)
    _, _, vt = np.linalg.svd(centers - mean)  # the input cameras' own directions of spread
    span = (centers - mean) @ vt.T
    lo, hi = span.min(0) - 1e-9, span.max(0) + 1e-9
    for c in cams:
        p = (c.position - mean) @ vt.T
        assert np.all(p >= lo) and np.all(p <= hi)
        assert angle_to_target(c, scene.focus) < 0.1


def test_time_modes() -> None:
    assert frame_times(3, 10, "frozen", 4) == [4.0, 4.0, 4.0]
    assert frame_times(3, 10, "play") == [0.0, 4.5, 9.0]
    assert frame_times(3, 10, "bounce") == [0.0, 9.0, 0.0]


def test_camera_path_json_round_trips_exactly(scene: TrainedScene) -> None:
    spec = RenderSpec(path="turntable", seconds=1, fps=6, long_side=64)
    frames = plan(scene, spec)
    data = json.loads(json.dumps(camera_path_json(scene, frames, spec)))
    back = frames_from_camera_path(scene, data)
    for a, b in zip(frames, back, strict=True):
        assert np.allclose(a.camera.position, b.camera.position, atol=1e-6)
        assert np.allclose(a.camera.rotation, b.camera.rotation, atol=1e-6)
        assert a.camera.fy == pytest.approx(b.camera.fy) and a.time == pytest.approx(b.time)


def test_a_nerfstudio_written_camera_path_renders(scene: TrainedScene, tmp_path: Path) -> None:
    c2w = scene.to_data(scene.cameras[0]).transform_matrix()
    ns = {  # the fields nerfstudio's viewer writes
        "camera_type": "perspective", "render_height": 24, "render_width": 32, "seconds": 0.5, "fps": 4,
        "camera_path": [{"camera_to_world": c2w.reshape(-1).tolist(), "fov": 50.0, "aspect": 32 / 24,
                         "render_time": t} for t in (0.0, 0.5)],
    }
    path = tmp_path / "ns_path.json"
    path.write_text(json.dumps(ns))
    out = export(scene, RenderSpec(fps=4), tmp_path / "ns.mp4", camera_path=path)
    assert video_shape(out) == (2, 24, 32)  # every entry, at the size the file asks for
    bigger = export(scene, RenderSpec(fps=4, long_side=64, resize_camera_path=True), tmp_path / "ns64.mp4",
                    camera_path=path)
    assert video_shape(bigger) == (2, 48, 64)  # an explicit size rescales it, keeping the aspect


def _nerfstudio_frame() -> DataparserTransform:
    """A training frame as nerfstudio's auto-orient/centre/scale makes one: turned, moved and scaled."""
    from nerfie.recon.rotations import axis_angle_matrix

    rot = axis_angle_matrix(np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8]), 2.1)
    return DataparserTransform.from_json({"transform": np.hstack([rot, [[0.4], [-1.2], [0.25]]]).tolist(),
                                          "scale": 0.37})


def test_a_path_written_in_nerfstudios_training_frame_round_trips_exactly(scene: TrainedScene) -> None:
    frame = _nerfstudio_frame()
    spec = RenderSpec(path="turntable", seconds=1, fps=6, long_side=64, dataparser=frame)
    frames = plan(scene, spec)
    data = json.loads(json.dumps(camera_path_json(scene, frames, spec)))
    plain = camera_path_json(scene, frames, RenderSpec(path="turntable", seconds=1, fps=6, long_side=64))
    assert data["camera_path"][0]["camera_to_world"] != plain["camera_path"][0]["camera_to_world"]
    for back in (frames_from_camera_path(scene, data), frames_from_camera_path(scene, data, dataparser=frame)):
        for a, b in zip(frames, back, strict=True):  # the file records its frame: read back, it is the same path
            assert np.allclose(a.camera.position, b.camera.position, atol=1e-6)
            assert np.allclose(a.camera.rotation, b.camera.rotation, atol=1e-6)
            assert a.time == pytest.approx(b.time)


def test_a_path_drawn_in_nerfstudios_viewer_lands_where_it_was_drawn(scene: TrainedScene, tmp_path: Path) -> None:
    frame = _nerfstudio_frame()
    rot, move = np.asarray(frame.transform)[:, :3], np.asarray(frame.transform)[:, 3]
    drawn = []  # the input cameras as nerfstudio's viewer shows them: p' = s (R p + t), axes R·(OpenGL axes)
    for cam in scene.cameras[:3]:
        gl = scene.to_data(cam).transform_matrix()
        c2w = np.eye(4)
        c2w[:3, :3] = rot @ gl[:3, :3]
        c2w[:3, 3] = frame.scale * (rot @ gl[:3, 3] + move)
        drawn.append({"camera_to_world": c2w.reshape(-1).tolist(), "fov": cam.fov_y_degrees,
                      "aspect": cam.width / cam.height, "render_time": 0.0})
    ns = {"camera_type": "perspective", "render_height": scene.cameras[0].height,
          "render_width": scene.cameras[0].width, "fps": 4, "seconds": 0.75, "camera_path": drawn,
          "keyframes": []}
    landed = frames_from_camera_path(scene, ns, dataparser=frame)
    for cam, f in zip(scene.cameras[:3], landed, strict=True):
        assert np.allclose(f.camera.position, cam.position, atol=1e-6)
        assert np.allclose(f.camera.rotation, cam.rotation, atol=1e-6)
    unmapped = frames_from_camera_path(scene, ns)  # without the transform it lands elsewhere: say so
    assert not np.allclose(unmapped[0].camera.position, scene.cameras[0].position, atol=1e-2)
    path = tmp_path / "drawn.json"
    path.write_text(json.dumps(ns))
    logs: list[str] = []
    export(scene, RenderSpec(fps=4, long_side=32, resize_camera_path=True), tmp_path / "drawn.mp4", camera_path=path,
           on_event=lambda e: logs.append(getattr(e, "message", "")))
    assert any("dataparser_transforms.json" in m for m in logs)


def test_camera_paths_nerfie_cannot_render_and_bad_frames_are_refused(scene: TrainedScene) -> None:
    fisheye = {"camera_type": "fisheye", "render_height": 24, "render_width": 32,
               "camera_path": [{"camera_to_world": np.eye(4).reshape(-1).tolist(), "fov": 50.0}]}
    with pytest.raises(NerfieError, match="perspective"):
        frames_from_camera_path(scene, fisheye)
    with pytest.raises(NerfieError, match="rotation"):
        DataparserTransform.from_json({"transform": [[2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], "scale": 1.0})
    with pytest.raises(NerfieError, match="scale"):
        DataparserTransform.from_json({"transform": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]})


def video_shape(path: Path) -> tuple[int, int, int]:
    """(frames, height, width) of a written video, decoded back."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    w, h = next(reader)["size"]
    return sum(1 for _ in reader), h, w


def _frames(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    return np.stack(list(iio.imiter(path)))


def test_the_comparison_video_puts_the_input_frame_beside_the_render(scene: TrainedScene, tmp_path: Path) -> None:
    import cv2
    import imageio.v3 as iio

    out = export(scene, RenderSpec(path="input", seconds=1.0, fps=4, long_side=48, outputs=("compare",)),
                 tmp_path / "input.mp4")
    side = _frames(tmp_path / "input.compare.mp4").astype(np.float64)
    main_video = _frames(out).astype(np.float64)
    n, h, w2, _ = side.shape
    assert (n, h, w2) == (main_video.shape[0], main_video.shape[1], 2 * main_video.shape[2])
    assert np.abs(side[:, :, w2 // 2:] - main_video).mean() < 3  # the right half is the render
    ds = scene.dataset
    for k, time in ((0, 0), (n - 1, max(ds.time_ids))):  # play: the first and last moments of the capture
        name = ds.names[ds.time_ids.index(time)]
        shot = cv2.resize(iio.imread(ds.root / ds.frames_dir / name)[..., :3], (w2 // 2, h),
                          interpolation=cv2.INTER_AREA)
        to_shot = np.abs(side[k, :, : w2 // 2] - shot).mean()
        other = ds.names[ds.time_ids.index(max(ds.time_ids) - time)]  # the other end of the capture
        to_other = np.abs(side[k, :, : w2 // 2] - cv2.resize(iio.imread(ds.root / ds.frames_dir / other)[..., :3],
                                                             (w2 // 2, h), interpolation=cv2.INTER_AREA)).mean()
        assert to_shot < 8 and to_shot < 0.5 * to_other  # the left half is that moment's input frame (H.264 aside)


def _keyframes(scene: TrainedScene) -> list:
    from nerfie.render.keyframes import Keyframe

    cams = make_path("turntable", scene.cameras, scene.focus, scene.up, 8, 64, arc_degrees=90)
    cams[2] = cams[2].copy(fy=cams[2].fy * 1.5, fx=cams[2].fx * 1.5)  # a zoomed-in keyframe
    return [Keyframe(cams[0], 0.0), Keyframe(cams[2], 4.0), Keyframe(cams[5], 6.0), Keyframe(cams[7], 9.0)]


def test_the_keyframe_path_passes_through_every_keyframe_smoothly(scene: TrainedScene) -> None:
    keys = _keyframes(scene)
    n = 3 * 10 + 1  # keyframe k lands on frame 10·k
    frames = plan(scene, RenderSpec(path="keyframes", seconds=n, fps=1, long_side=64, keyframes=keys))
    assert len(frames) == n
    for k, key in enumerate(keys):
        cam = frames[10 * k].camera
        assert np.allclose(cam.position, key.camera.position, atol=1e-9)
        assert np.allclose(cam.rotation, key.camera.rotation, atol=1e-9)
        assert cam.fov_y_degrees == pytest.approx(key.camera.fov_y_degrees)
        assert frames[10 * k].time == pytest.approx(key.time)
    steps = [np.linalg.norm(frames[i + 1].camera.position - frames[i].camera.position) for i in range(n - 1)]
    jumps = [abs(a - b) for a, b in itertools.pairwise(steps)]
    assert max(jumps) < 0.5 * max(steps)  # no kinks: consecutive steps change gradually
    assert all(0 <= f.time <= 9 for f in frames) and frames[15].time == pytest.approx(5.0)


def test_keyframes_round_trip_through_their_json_and_render(scene: TrainedScene, tmp_path: Path) -> None:
    from nerfie.render.export import keyframes_from_json, keyframes_json

    keys = _keyframes(scene)
    back = keyframes_from_json(scene, json.loads(json.dumps({"keyframes": keyframes_json(scene, keys)})))
    for a, b in zip(keys, back, strict=True):
        assert np.allclose(a.camera.position, b.camera.position, atol=1e-6)
        assert np.allclose(a.camera.rotation, b.camera.rotation, atol=1e-6)
        assert a.camera.fov_y_degrees == pytest.approx(b.camera.fov_y_degrees) and a.time == b.time
    spec = RenderSpec(path="keyframes", seconds=1, fps=4, long_side=32, keyframes=back)
    out = export(scene, spec, tmp_path / "keys.mp4")
    assert out.stat().st_size > 0
    written = json.loads(out.with_suffix(".camera_path.json").read_text())
    assert len(written["nerfie"]["keyframes"]) == 4  # the keyframes travel with the exported path
    again = keyframes_from_json(scene, written)
    assert np.allclose(again[3].camera.position, keys[3].camera.position, atol=1e-6)


def test_bad_keyframes_are_refused_clearly(scene: TrainedScene) -> None:
    from nerfie.recon.errors import NerfieError
    from nerfie.render.export import keyframes_from_json

    with pytest.raises(NerfieError, match="no keyframes"):
        keyframes_from_json(scene, {"camera_path": []})
    with pytest.raises(NerfieError, match="Keyframe 0 has no valid camera_to_world"):
        keyframes_from_json(scene, {"keyframes": [{"fov": 40}]})
    with pytest.raises(NerfieError, match="needs keyframes"):
        plan(scene, RenderSpec(path="keyframes", seconds=1, fps=2))


def test_mp4_has_the_expected_frames_size_and_rate_and_is_not_blank(scene: TrainedScene, tmp_path: Path) -> None:
    import imageio_ffmpeg

    spec = RenderSpec(path="orbit-mild", seconds=1, fps=8, long_side=48, time_mode="play")
    out = export(scene, spec, tmp_path / "orbit.mp4", png=True)
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    frames = [np.frombuffer(f, np.uint8) for f in reader]
    assert len(frames) == 8 and meta["fps"] == pytest.approx(8)
    w, h = meta["size"]
    assert max(w, h) == 48 and w % 2 == 0 and h % 2 == 0
    assert all(f.astype(float).std() > 2 for f in frames)
    assert (tmp_path / "orbit.camera_path.json").exists() and len(list((tmp_path / "orbit").glob("*.png"))) == 8
    from nerfie.recon.project import Project

    stage = Project.load(scene.project.root).stages["render"]  # the project records what was exported
    assert stage.state == "done" and stage.detail["frames"] == 8 and stage.detail["video"].endswith("orbit.mp4")


def test_frozen_time_is_still_and_playing_time_moves(scene: TrainedScene) -> None:
    cam = make_path("orbit-mild", scene.cameras, scene.focus, scene.up, 4, 32)[0]
    a = to_uint8(scene.render(cam, 2.0)["rgb"])
    b = to_uint8(scene.render(cam, 2.0)["rgb"])
    c = to_uint8(scene.render(cam, 8.0)["rgb"])
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_rendering_an_untrained_project_says_so(tmp_path: Path) -> None:
    from nerfie.recon.errors import NerfieError
    from nerfie.recon.project import Project

    Project.create(tmp_path / "p", preset("cpu-preview"))
    with pytest.raises(NerfieError, match="no trained model"):
        load_scene(tmp_path / "p")


def test_rendering_input_cameras_through_export_matches_the_trainers_evaluation(scene: TrainedScene,
                                                                              tmp_path: Path) -> None:
    """The export path (camera → render → uint8 frames) and the trainer's evaluation agree on PSNR."""
    import imageio.v3 as iio

    from nerfie.recon.train import Trainer, psnr
    from nerfie.render.export import render_video
    from nerfie.render.paths import PathFrame

    trainer = Trainer(scene.project)  # resumes the same checkpoint
    ds = scene.dataset
    picks = [2, 7]
    expected = trainer.evaluate(picks)
    frames = [PathFrame(scene.cameras[i], float(ds.time_ids[i])) for i in picks]
    render_video(scene, frames, tmp_path / "inputs.mp4", fps=2, png_dir=tmp_path / "png")
    mses = []
    for k, i in enumerate(picks):
        got = iio.imread(tmp_path / "png" / f"frame_{k:05d}.png").astype(np.float64) / 255
        gt = iio.imread(ds.root / ds.frames_dir / ds.names[i])[..., :3].astype(np.float64) / 255
        mses.append(float(np.mean((got - gt) ** 2)))
    assert psnr(float(np.mean(mses))) == pytest.approx(expected, abs=0.05)


def test_the_fast_budget_is_three_quarters_and_two_thirds_of_the_models_samples() -> None:
    from types import SimpleNamespace

    def fake(name: str) -> SimpleNamespace:
        return SimpleNamespace(model=SimpleNamespace(cfg=preset(name).model))

    assert TrainedScene.reduced_samples(fake("cpu-preview")) == (24, 16)  # type: ignore[arg-type]
    assert TrainedScene.reduced_samples(fake("gpu-standard")) == (192, 32)  # type: ignore[arg-type]
    assert preset("cpu-preview").render.fast_samples and not preset("gpu-standard").render.fast_samples


def test_nerfie_render_flies_a_keyframes_file_and_refuses_a_broken_one(scene: TrainedScene, tmp_path: Path,
                                                                       capsys) -> None:  # type: ignore[no-untyped-def]
    from nerfie.app.cli import main
    from nerfie.render.export import keyframes_json

    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keyframes": keyframes_json(scene, _keyframes(scene))}))
    out = tmp_path / "k.mp4"
    args = ["render", str(scene.project.root), "--seconds", "0.5", "--fps", "4", "--long-side", "32", "-o", str(out)]
    assert main([*args, "--keyframes", str(keys)]) == 0
    assert out.exists() and "keyframes, time as keyed" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("not json")
    assert main([*args, "--keyframes", str(tmp_path / "bad.json")]) == 2
    assert 'a "keyframes" list' in capsys.readouterr().err


def test_depth_pngs_hold_the_renderers_depth_and_the_depth_video_has_every_frame(scene: TrainedScene,
                                                                                 tmp_path: Path) -> None:
    import cv2
    import imageio.v3 as iio

    spec = RenderSpec(path="turntable", seconds=1, fps=3, long_side=40, outputs=("depth",))
    out = export(scene, spec, tmp_path / "t.mp4")
    frames = plan(scene, spec)
    unit = json.loads((tmp_path / "t.depth" / "depth.json").read_text())["unit"]
    for k in (0, 2):
        png = cv2.imread(str(tmp_path / "t.depth" / f"frame_{k:05d}.png"), cv2.IMREAD_UNCHANGED)
        assert png.dtype == np.uint16 and png.shape == (frames[k].camera.height, frames[k].camera.width)
        truth = scene.render(frames[k].camera, frames[k].time)["depth"].double().numpy() / scene.dataset.scale
        assert np.abs(png * unit - truth).max() <= unit  # the same depth, in the project's data units
    assert len(list(iio.imiter(out.with_name("t.depth.mp4")))) == 3


def test_the_cutout_of_exact_depth_is_the_true_subject_mask(tmp_path: Path) -> None:
    """Given exact depth (the synthetic capture's own), the cut-out's alpha is the person: what the
    capture's ground-truth mask says, with the room transparent."""
    import cv2
    import imageio.v3 as iio
    import torch

    from nerfie.recon.dataset import load_dataset
    from nerfie.recon.importers import import_transforms
    from nerfie.recon.synth import SynthSpec, generate
    from nerfie.render.extra_outputs import ExtraOutputs, cutout_radius

    generate(tmp_path / "cap", SynthSpec(frames=6, width=96, height=80, heldout=0, seed=2))
    proj = import_transforms(tmp_path / "cap" / "transforms.json", tmp_path / "proj", preset("cpu-preview"))
    ds = load_dataset(proj.root)
    focus, radius = ds.subject()
    cam = ds.normalized_cameras()[0]
    depth = torch.from_numpy(np.load(tmp_path / "cap" / "depth.npy")[0]).double() * ds.scale
    rgb = iio.imread(tmp_path / "cap" / "frames" / "frame_00000.png")
    cut = cutout_radius(focus, radius, (ds.background - ds.center) * ds.scale)
    extra = ExtraOutputs(tmp_path / "v.mp4", ("cutout",), (cam.width, cam.height), 1, ds.scale, focus, cut)
    extra.add(0, cam, {"depth": depth, "acc": torch.ones_like(depth)}, rgb)
    extra.close(ok=True)
    alpha = iio.imread(tmp_path / "v.cutout" / "frame_00000.png")[..., 3] > 127
    person = cv2.imread(str(tmp_path / "cap" / "masks" / "frame_00000.png"), cv2.IMREAD_GRAYSCALE) < 128
    iou = (alpha & person).sum() / (alpha | person).sum()
    assert iou > 0.8, iou
    assert (tmp_path / "v.cutout.mp4").exists()

    # Transparent: a WebM whose alpha channel is the same cut-out (decoded by libvpx, which reads alpha).
    clear = ExtraOutputs(tmp_path / "w.mp4", ("cutout",), (cam.width, cam.height), 1, ds.scale, focus, cut,
                         background="transparent")
    clear.add(0, cam, {"depth": depth, "acc": torch.ones_like(depth)}, rgb)
    clear.close(ok=True)
    assert not (tmp_path / "w.cutout.mp4").exists()
    webm_alpha = _decode_rgba(tmp_path / "w.cutout.webm", cam.width, cam.height)[0, ..., 3] > 127
    assert (webm_alpha == alpha).mean() > 0.98


def _decode_rgba(path: Path, width: int, height: int) -> np.ndarray:
    import subprocess

    import imageio_ffmpeg

    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-c:v", "libvpx-vp9", "-i", str(path),
                          "-f", "rawvideo", "-pix_fmt", "rgba", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 4)


def test_a_cancelled_render_leaves_no_extra_videos(scene: TrainedScene, tmp_path: Path) -> None:
    from nerfie.recon.events import Cancelled

    calls = iter(range(100))
    with pytest.raises(Cancelled):
        export(scene, RenderSpec(path="turntable", seconds=1, fps=4, long_side=32, outputs=("depth", "cutout")),
               tmp_path / "x.mp4", cancelled=lambda: next(calls) >= 2)
    assert not list(tmp_path.glob("*.mp4"))
