"""The Nerfie model and trainer: the method's maths pinned down, and a trainer that survives real life."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from nerfie.recon.config import preset, with_overrides
from nerfie.recon.errors import NerfieError
from nerfie.recon.hashgrid import window_weights
from nerfie.recon.model.fields import DeformationField, posenc
from nerfie.recon.model.losses import (
    background_loss,
    elastic_residual,
    geman_mcclure,
    warp_jacobian,
    warp_jacobian_fd,
)
from nerfie.recon.model.nerfie import NerfieModel, time_codes
from nerfie.recon.model.se3 import apply_se3, exp_se3, skew
from nerfie.recon.project import Project
from nerfie.recon.train import Trainer

# ---- maths ------------------------------------------------------------------------------------------


def test_window_weights_and_alpha_schedule() -> None:
    w = window_weights(1.5, 4)
    assert torch.allclose(w, torch.tensor([1.0, 0.5, 0.0, 0.0]))
    enc = posenc(torch.ones(1, 3), 4, alpha=0.0)
    assert torch.all(enc[0, 3:] == 0) and torch.all(enc[0, :3] == 1)  # identity is never windowed


def test_se3_exponential_matches_the_matrix_exponential() -> None:
    g = torch.Generator().manual_seed(0)
    r = torch.randn(64, 3, generator=g, dtype=torch.float64)
    v = torch.randn(64, 3, generator=g, dtype=torch.float64)
    R, t = exp_se3(r, v)
    twist = torch.zeros(64, 4, 4, dtype=torch.float64)
    twist[:, :3, :3] = skew(r)
    twist[:, :3, 3] = v
    M = torch.linalg.matrix_exp(twist)
    assert torch.allclose(R, M[:, :3, :3], atol=1e-12) and torch.allclose(t, M[:, :3, 3], atol=1e-12)


def test_se3_is_exactly_identity_at_zero_with_finite_gradients() -> None:
    r = torch.zeros(5, 3, dtype=torch.float64, requires_grad=True)
    v = torch.zeros(5, 3, dtype=torch.float64, requires_grad=True)
    R, t = exp_se3(r, v)
    assert torch.equal(R, torch.eye(3, dtype=torch.float64).expand(5, 3, 3)) and torch.equal(t, torch.zeros(5, 3,
                                                                                                          dtype=torch.float64))
    (R.sum() + t.sum()).backward()
    assert torch.isfinite(r.grad).all() and torch.isfinite(v.grad).all()


def test_applying_a_screw_without_matrices_equals_R_x_plus_t() -> None:
    g = torch.Generator().manual_seed(1)
    # large rotations, and tiny ones on the Taylor branch
    r = torch.cat([torch.randn(64, 3, generator=g, dtype=torch.float64),
                   1e-5 * torch.randn(16, 3, generator=g, dtype=torch.float64)])
    v = torch.randn(80, 3, generator=g, dtype=torch.float64)
    x = torch.randn(80, 3, generator=g, dtype=torch.float64)
    R, t = exp_se3(r, v)
    assert torch.allclose(apply_se3(r, v, x), (R @ x[..., None])[..., 0] + t, atol=1e-12)
    zero = torch.zeros(5, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(5, 3, dtype=torch.float64)
    out = apply_se3(zero, zero, y)
    assert torch.equal(out, y)
    out.sum().backward()
    assert torch.isfinite(zero.grad).all()


def test_elastic_residual_is_zero_for_rigid_and_grows_with_shear() -> None:
    from nerfie.recon.rotations import axis_angle_matrix

    rot = torch.tensor(axis_angle_matrix([1, 2, 3], 0.7))[None]
    assert elastic_residual(rot).item() < 1e-12
    shears = [torch.tensor([[1.0, s, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)[None]
              for s in (0.1, 0.3, 0.6)]
    vals = [elastic_residual(j).item() for j in shears]
    assert 0 < vals[0] < vals[1] < vals[2]
    assert geman_mcclure(torch.tensor(0.0), 0.03) == 0


def test_warp_jacobian_matches_finite_differences() -> None:
    torch.manual_seed(0)
    warp = DeformationField(4, 8, 32, 3).double()
    for h in (warp.head_r, warp.head_v):
        torch.nn.init.normal_(h.weight, 0, 0.3)  # a real, non-trivial deformation
    x = torch.randn(6, 3, dtype=torch.float64) * 0.3
    code = torch.rand(6, 8, dtype=torch.float64)
    jac = warp_jacobian(warp, x, code, alpha=3.0)
    eps = 1e-6
    for d in range(3):
        dx = torch.zeros(3, dtype=torch.float64)
        dx[d] = eps
        fd = (warp(x + dx, code, 3.0) - warp(x - dx, code, 3.0)) / (2 * eps)
        assert torch.allclose(jac[:, :, d], fd, atol=1e-6)


def test_warp_jacobian_matches_finite_differences_through_the_reach_fade() -> None:
    # Points on both sides of the fade (0.75·reach … reach) and beyond it; the warp must stay C¹ there.
    torch.manual_seed(1)
    warp = DeformationField(4, 8, 32, 3, reach=2.0).double()
    for h in (warp.head_r, warp.head_v):
        torch.nn.init.normal_(h.weight, 0, 0.3)
    direction = torch.nn.functional.normalize(torch.randn(8, 3, dtype=torch.float64), dim=-1)
    x = direction * torch.linspace(0.2, 2.4, 8, dtype=torch.float64)[:, None]
    code = torch.rand(8, 8, dtype=torch.float64)
    jac = warp_jacobian(warp, x, code, alpha=3.0)
    assert torch.allclose(warp_jacobian_fd(warp, x, code, 3.0, step=1e-6), jac, atol=1e-6)
    assert torch.allclose(jac[-1], torch.eye(3, dtype=torch.float64))  # beyond the reach: identity


def test_the_warp_leaves_the_room_beyond_its_reach_alone() -> None:
    warp = DeformationField(4, 8, 32, 3, reach=2.0)
    torch.nn.init.normal_(warp.head_v.weight, 0, 0.3)
    warp.center.copy_(torch.tensor([0.1, -0.2, 0.3]))
    warp.radius.fill_(0.5)
    near = warp.center + torch.tensor([[0.2, 0.0, 0.0]])  # 0.4 fine-ball radii from the focus
    far = warp.center + torch.tensor([[0.0, 1.2, 0.0], [-3.0, 0.0, 0.0]])  # ≥ 2.4 radii
    code = torch.rand(3, 8)
    moved = warp(torch.cat([near, far]), code, 4.0)
    assert torch.equal(moved[1:], far)
    assert (moved[0] - near[0]).norm() > 1e-3
    everywhere = DeformationField(4, 8, 32, 3, reach=0.0)
    everywhere.load_state_dict(warp.state_dict())
    assert torch.allclose(everywhere(near, code[:1], 4.0), moved[:1])  # inside the fade: the same warp


def _hash_warp(reach: float = 2.0) -> DeformationField:
    warp = DeformationField(4, 8, 32, 2, reach=reach, encoding="hashgrid", hash_levels=4, hash_log2_table=10,
                            hash_max_res=64, backend="torch")
    for h in (warp.head_r, warp.head_v):
        torch.nn.init.normal_(h.weight, 0, 0.3)
    return warp


def test_a_hash_encoded_warp_sees_its_grid_only_as_alpha_opens_the_levels() -> None:
    torch.manual_seed(2)
    warp = _hash_warp()
    x, code = torch.rand(64, 3) - 0.5, torch.rand(64, 8)
    closed, opened = warp(x, code, 0.0), warp(x, code, 4.0)
    torch.nn.init.uniform_(warp.grid.table, -1, 1)  # the grid now says something different everywhere
    assert torch.equal(warp(x, code, 0.0), closed)  # α = 0: the point itself and the code only
    assert (warp(x, code, 4.0) - opened).abs().max() > 1e-3  # α = num_freqs: every level on


def test_a_hash_encoded_warp_trains_its_table_and_survives_several_calls_a_step() -> None:
    # The render, the elastic loss and the background loss each call the warp in one step: the level
    # window must not be rewritten under the graph of the earlier calls (that raised in backward).
    torch.manual_seed(3)
    warp = _hash_warp()
    x, code = torch.rand(32, 3) - 0.5, torch.rand(32, 8)
    loss = warp(x, code, 2.5).square().sum() + background_loss(warp, x, code, 2.5)
    loss = loss + elastic_residual(warp_jacobian_fd(warp, x, code, 2.5)).mean()
    loss.backward()
    assert warp.grid.table.grad is not None and warp.grid.table.grad.abs().sum() > 0
    assert torch.isfinite(warp.grid.table.grad).all()


def test_a_hash_encoded_warp_leaves_the_room_beyond_its_reach_alone() -> None:
    warp = _hash_warp()
    far = torch.tensor([[0.0, 2.2, 0.0], [-3.0, 0.0, 0.0]])
    assert torch.equal(warp(far, torch.rand(2, 8), 4.0), far)


def test_time_codes_start_distinct_and_smooth_in_time() -> None:
    codes = time_codes(150, 8)
    steps = (codes[1:] - codes[:-1]).norm(dim=-1)
    ends = (codes[0] - codes[-1]).norm()
    assert codes.shape == (150, 8)
    assert steps.max() < 0.15  # neighbours in time are neighbours in code space…
    assert ends > 1.0  # …and the clip's ends are far apart (Nerfies' U[0, 0.05) start: all within 0.15)
    assert torch.all(torch.cdist(codes, codes) + torch.eye(150) > 0.01)  # no two frames share a code
    assert time_codes(1, 8).shape == (1, 8) and time_codes(10, 5).shape == (10, 5)


def test_background_loss_is_zero_for_the_identity_warp() -> None:
    warp = DeformationField(4, 8, 32, 3)
    for h in (warp.head_r, warp.head_v):
        torch.nn.init.zeros_(h.weight)
    pts = torch.rand(100, 3)
    assert background_loss(warp, pts, torch.rand(100, 8), alpha=2.0).item() == 0.0
    torch.nn.init.normal_(warp.head_v.weight, 0, 0.1)
    assert background_loss(warp, pts, torch.rand(100, 8), alpha=2.0).item() > 0


# ---- trainer ------------------------------------------------------------------------------------------

TINY = {
    "train.rays_per_batch": 256, "model.proposal_samples": [16], "model.shaded_samples": 12,
    "train.checkpoint_every": 0, "train.eval_every": 0, "train.minutes": 0.0, "train.warp_anneal_steps": 50,
    "train.background_points": 64, "train.steps": 400,
}


@pytest.fixture(scope="module")
def tiny_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nerfie.recon.synth import SynthSpec, generate

    out = tmp_path_factory.mktemp("tiny")
    generate(out, SynthSpec(frames=8, width=40, height=40, heldout=0, seed=4))
    return out


def make_project(capture: Path, root: Path, **overrides: object) -> Project:
    from nerfie.recon.importers import import_transforms

    cfg = with_overrides(preset("cpu-preview"), {**TINY, **overrides})
    return import_transforms(capture / "transforms.json", root, cfg)


def test_a_tiny_capture_is_overfitted(tiny_capture: Path, tmp_path: Path) -> None:
    proj = make_project(tiny_capture, tmp_path / "p", **{"train.lr": 0.02})
    tr = Trainer(proj)
    first = tr.train_step()["rgb"]
    losses = [tr.train_step()["rgb"] for _ in range(400)]
    final = sorted(losses[-10:])[5]
    assert final < first / 10, (first, final)


@pytest.mark.parametrize("rays", ["uniform", "error"])
def test_checkpoint_resume_continues_the_same_loss_curve(tiny_capture: Path, tmp_path: Path, rays: str) -> None:
    """A killed and resumed run is the run that was not killed: weights, optimiser, schedule, random
    streams and (with error-map rays) the error map all come back from the checkpoint."""
    a = Trainer(make_project(tiny_capture, tmp_path / "a", **{"train.ray_sampling": rays}))
    straight = [a.train_step()["loss"] for _ in range(8)]
    b_proj = make_project(tiny_capture, tmp_path / "b", **{"train.ray_sampling": rays})
    b = Trainer(b_proj)
    first = [b.train_step()["loss"] for _ in range(4)]
    b.save()
    c = Trainer(Project.load(b_proj.root))  # a fresh process would do exactly this
    assert c.step == 4
    resumed = first + [c.train_step()["loss"] for _ in range(4)]
    assert resumed == pytest.approx(straight, rel=1e-4)


def test_a_hash_encoded_warp_trains_resumes_and_learns_at_the_tables_rate(tiny_capture: Path, tmp_path: Path
                                                                         ) -> None:
    over = {"model.warp_encoding": "hashgrid", "model.warp_depth": 2, "model.warp_hash_log2_table": 10}
    proj = make_project(tiny_capture, tmp_path / "p", **over)
    tr = Trainer(proj)
    groups = {g["name"]: g for g in tr.optimizer.param_groups}
    assert groups["warp_grid"]["params"] == [tr.model.warp.grid.table]
    assert groups["warp_grid"]["base_lr"] == proj.config.train.lr != groups["warp"]["base_lr"]
    assert all(q is not tr.model.warp.grid.table for q in groups["warp"]["params"])
    before = tr.model.warp.grid.table.detach().clone()
    losses = [tr.train_step()["loss"] for _ in range(60)]  # past warp_anneal_steps: every level on
    assert all(math.isfinite(v) for v in losses)
    assert not torch.equal(tr.model.warp.grid.table, before)
    tr.save()
    again = Trainer(Project.load(proj.root))
    assert torch.equal(again.model.warp.grid.table, tr.model.warp.grid.table)


def test_a_nan_loss_is_skipped_and_reported(tiny_capture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    tr = Trainer(make_project(tiny_capture, tmp_path / "p"))
    tr.train_step()
    real = tr.losses
    calls = {"n": 0}

    def poisoned(step: int) -> dict[str, torch.Tensor]:
        calls["n"] += 1
        out = real(step)
        if calls["n"] == 1:
            out["rgb"] = out["rgb"] * float("nan")
        return out

    events = []
    tr.on_event = events.append
    monkeypatch.setattr(tr, "losses", poisoned)
    assert math.isnan(tr.train_step()["loss"])
    assert tr.lr_scale == 0.5 and any("non-finite" in getattr(e, "message", "") for e in events)
    assert math.isfinite(tr.train_step()["loss"])
    tr.save()
    state = torch.load(tr.ckpt_path, weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_training_a_project_without_poses_says_so(tmp_path: Path) -> None:
    proj = Project.create(tmp_path / "p", preset("cpu-preview"))
    with pytest.raises(NerfieError, match="no camera poses"):
        Trainer(proj)


def test_an_incompatible_checkpoint_is_refused_and_kept(tiny_capture: Path, tmp_path: Path) -> None:
    proj = make_project(tiny_capture, tmp_path / "p")
    tr = Trainer(proj)
    tr.train_step()
    tr.save()
    proj.config = with_overrides(proj.config, {"model.warp_width": 48})
    proj.save()
    with pytest.raises(NerfieError, match="different model settings"):
        Trainer(Project.load(proj.root))
    assert tr.ckpt_path.exists()


def test_run_stops_at_the_step_budget_and_records_the_stage(tiny_capture: Path, tmp_path: Path) -> None:
    proj = make_project(tiny_capture, tmp_path / "p")
    events: list[object] = []
    result = Trainer(proj, events.append).run(steps=20)
    assert result["step"] == 20
    assert Project.load(proj.root).stages["train"].state == "done"
    assert any(type(e).__name__ == "TrainStatus" for e in events)
    assert (proj.checkpoints_dir / "latest.pt").exists()


def test_held_out_frames_get_codes_blended_from_their_trained_neighbours() -> None:
    from nerfie.recon.config import ModelConfig
    from nerfie.recon.model.nerfie import NerfieModel

    model = NerfieModel(ModelConfig(hash_levels=2, hash_log2_table=10, hash_max_res=32, warp_width=8,
                                    warp_depth=2, warp_freqs=2), num_frames=6, backend="torch")
    with torch.no_grad():
        model.warp_codes.weight.copy_(torch.arange(6, dtype=torch.float32)[:, None].expand(6, 8) * 10)
        model.appearance_codes.weight.copy_(torch.arange(6, dtype=torch.float32)[:, None].expand(6, 8))
    model.fill_untrained_codes([1, 2, 4])  # 0 and 5 are ends, 3 lies between trained 2 and 4
    w = model.warp_codes.weight[:, 0].tolist()
    a = model.appearance_codes.weight[:, 0].tolist()
    assert w == [10.0, 10.0, 20.0, 30.0, 40.0, 40.0]
    assert a == [1.0, 1.0, 2.0, 3.0, 4.0, 4.0]
    model.warp_codes.weight.data[3] = -1.0
    model.fill_untrained_codes([1, 2, 4])
    assert model.warp_codes.weight[3, 0].item() == 30.0  # rebuilt each time from the trained codes


def test_ambient_dimensions_start_static_then_let_the_template_change_with_the_frame() -> None:
    """``model.ambient_dim`` (HyperNeRF's axis-aligned slicing): the template's density also reads a linear
    map of the frame's warp code. At initialisation the map is zero, so every frame sees the same template
    (training starts as Nerfies); once it is not, the same template point can differ between frames, and a
    moment between two frames blends their ambient coordinates as it blends their warps."""
    from nerfie.recon.config import ModelConfig
    from nerfie.recon.model.nerfie import NerfieModel

    cfg = ModelConfig(hash_levels=2, hash_log2_table=10, hash_max_res=32, warp="none", ambient_dim=2)
    model = NerfieModel(cfg, num_frames=3, backend="torch")
    x = torch.rand(64, 3) * 0.2
    codes = [model.codes(torch.full((64,), i))[0] for i in range(3)]
    with torch.no_grad():
        first = [model.density_at(x, c, 0.0)[0] for c in codes]
        assert torch.equal(first[0], first[1]) and torch.equal(first[0], first[2])  # static at the start
        model.ambient.weight.normal_(0, 1.0)
        model.warp_codes.weight.copy_(torch.tensor([[0.0] * 8, [1.0] * 8, [2.0] * 8]))
        ambient = [model.ambient(model.codes_at(t, 1, x.device)[0]) for t in (0.0, 0.5, 1.0)]
        assert torch.allclose(ambient[1], 0.5 * (ambient[0] + ambient[2]))  # blended like the warp code
        a, b = (model.density_at(x, model.codes(torch.full((64,), i))[0], 0.0)[0] for i in (0, 2))
        assert not torch.allclose(a, b)  # the same point, another frame: another density
    assert NerfieModel(ModelConfig(hash_levels=2, hash_log2_table=10, hash_max_res=32), 3, "torch").ambient is None


def test_a_time_budget_that_ends_the_run_first_still_decays_the_learning_rate_to_its_end(
        tiny_capture: Path, tmp_path: Path) -> None:
    """``--minutes`` cutting a long step schedule must not leave the final weights at a high learning rate."""
    proj = make_project(tiny_capture, tmp_path / "p", **{"train.steps": 10**9, "train.checkpoint_every": 0,
                                                         "train.eval_every": 0})
    tr = Trainer(proj)
    tr.run(minutes=0.05)  # 3 s of a schedule a billion steps long
    lr = tr.optimizer.param_groups[0]["lr"]
    t = tr.cfg.train
    assert tr.progress > 0.9 and lr < t.lr * (t.lr_final / t.lr) ** 0.9
    # resuming (a new trainer reading the checkpoint, as a new process would) continues the schedule
    # from where it stopped instead of starting the decay again
    resumed = Trainer(Project.load(proj.root))
    assert resumed.step == tr.step and resumed.progress == pytest.approx(tr.progress)
    resumed.train_step()
    assert resumed.progress >= tr.progress and resumed.optimizer.param_groups[0]["lr"] <= lr * 1.001
    steps_only = Trainer(make_project(tiny_capture, tmp_path / "q", **{"train.steps": 10**9}))
    steps_only.train_step()
    assert steps_only.progress < 1e-6  # without a budget the steps decide, as before


def test_a_cooldown_reaches_lr_final_early_and_ends_ten_times_lower(tiny_capture: Path, tmp_path: Path) -> None:
    tr = Trainer(make_project(tiny_capture, tmp_path / "p", **{"train.lr_cooldown": 0.2}))
    t = tr.cfg.train
    at = {}
    for p in (0.0, 0.4, 0.8, 0.9, 1.0):
        tr.progress = p
        at[p] = tr.lr_factor() * t.lr
    assert at[0.0] == pytest.approx(t.lr) and at[0.8] == pytest.approx(t.lr_final)
    assert at[0.4] == pytest.approx(t.lr * (t.lr_final / t.lr) ** 0.5)
    assert at[0.9] == pytest.approx(t.lr_final * 0.1**0.5) and at[1.0] == pytest.approx(t.lr_final / 10)
    plain = Trainer(make_project(tiny_capture, tmp_path / "q", **{"train.lr_cooldown": 0.0}))
    plain.progress = 1.0
    assert plain.lr_factor() * t.lr == pytest.approx(t.lr_final)  # no cooldown: the plain decay


def test_a_finished_run_scores_what_users_see_and_writes_quality_json(tiny_capture: Path, tmp_path: Path) -> None:
    """View consistency (and the subject region, the capture has masks) is scored at the end of a run,
    emitted as one typed event and kept in the project."""
    from nerfie.recon.events import QualityReport
    from nerfie.recon.fileio import read_json

    proj = make_project(tiny_capture, tmp_path / "p")
    events: list[object] = []
    Trainer(proj, events.append).run(steps=20)
    reports = [e for e in events if isinstance(e, QualityReport)]
    assert len(reports) == 1
    rep = reports[0]
    assert rep.consistency_frames >= 3
    assert math.isfinite(rep.consistency_psnr) and math.isfinite(rep.consistency_psnr_subject)
    q = read_json(proj.root / "quality.json")
    assert q["view_consistency"]["frames"] == rep.consistency_frames
    assert q["subject_source"] == "subject masks"
    detail = Project.load(proj.root).stages["train"].detail
    assert detail["consistency_psnr"] == pytest.approx(rep.consistency_psnr, abs=0.01)


def test_the_model_is_framed_on_the_subject_estimate(tiny_capture: Path, tmp_path: Path) -> None:
    proj = make_project(tiny_capture, tmp_path / "p")
    tr = Trainer(proj)
    center, _ = tr.dataset.subject()
    assert tr.dataset.subject_source == "subject masks"
    assert np.allclose(tr.model.template.center.cpu().numpy(), center, atol=1e-6)


def test_trainings_evaluations_score_a_few_views_small_and_the_final_report_all_at_full_size(
        tiny_capture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nerfie.recon.train as train_module
    from nerfie.recon.events import EvalResult

    proj = make_project(tiny_capture, tmp_path / "p", **{"train.eval_every": 2})
    events: list[object] = []
    tr = Trainer(proj, events.append)
    tr.data.val = list(range(8))  # a val split larger than training's evaluations take
    sizes: list[tuple[int, int]] = []
    real = train_module.render_camera
    monkeypatch.setattr(train_module, "EVAL_SIDE_DURING_TRAINING", 20)

    def spy(model, cams, i, w, h, *args, **kwargs):  # type: ignore[no-untyped-def]
        sizes.append((w, h))
        return real(model, cams, i, w, h, *args, **kwargs)

    monkeypatch.setattr(train_module, "render_camera", spy)
    tr.run(steps=2)
    evals = [e for e in events if isinstance(e, EvalResult)]
    during, final = evals[0], evals[-1]
    assert during.step == 2 and during.frames == 4 and final.frames == 8
    assert sizes[:4] == [(20, 20)] * 4  # the curve's point: 4 of the 8 views, at half the 40² training size
    assert sizes[4:12] == [(40, 40)] * 8  # the final report: every view, full size


def _shifted_model(space: str) -> NerfieModel:
    """A model whose warp moves every point by +0.2 along z (every frame alike) and whose proposal sees one
    dense blob at template z = 0.5: the frame's matter is at observation z = 0.3."""
    from nerfie.recon.config import ModelConfig

    cfg = ModelConfig(hash_levels=2, hash_log2_table=10, hash_max_res=32, warp="translation", warp_width=16,
                      warp_depth=1, warp_freqs=2, proposal_samples=(64,), shaded_samples=16, proposal_space=space)
    model = NerfieModel(cfg, num_frames=2, backend="torch")
    with torch.no_grad():
        model.warp.head_v.weight.zero_()
        model.warp.head_v.bias.copy_(torch.tensor([0.0, 0.0, 0.2]))
    blob = torch.tensor([0.0, 0.0, 0.5])
    model.proposal.forward = lambda x: 200.0 * torch.exp(-((x - blob) ** 2).sum(-1) / 0.003)  # type: ignore[method-assign]
    return model


@pytest.mark.parametrize("space, where", [("template", 0.3), ("observation", 0.5)])
def test_the_sampler_follows_each_frames_deformation(space: str, where: float) -> None:
    """``model.proposal_space``: in "template" (the D-NeRF import's) the proposal is queried at warped points, so the
    shaded samples land where the frame's matter is (here z = 0.3); an unwarped proposal sees every frame's
    matter at once and, where a body moves, samples a place it no longer is (z = 0.5) — the holes of D-NeRF
    hook's crouched first frames."""
    model = _shifted_model(space)
    o, d = torch.tensor([[0.0, 0.0, -1.0]]), torch.tensor([[0.0, 0.0, 1.0]])
    wc, ac = model.codes(torch.tensor([1]))
    with torch.no_grad():
        out = model.render(o, d, wc, ac, near=0.5, far=3.0, alpha=2.0)
    z = (o[:, None] + d[:, None] * out["t_mid"][..., None])[0, :, 2]
    assert abs(z.median().item() - where) < 0.1  # the blob's front face (it is ~0.1 deep), not the other place


def test_the_proposal_trains_without_pulling_on_the_warp() -> None:
    """The interlevel loss trains the proposal to bound the shaded weights; it must not bend the warp to
    suit the sampler (the warp answers to the photometric loss alone)."""
    torch.manual_seed(0)
    model = _shifted_model("template")
    model.proposal = type(model.proposal)(10, 32, backend="torch")
    with torch.no_grad():
        model.proposal.net.out.bias.fill_(-8.0)  # a proposal that sees (nearly) nothing: its bound is violated
    o = torch.tensor([[0.0, 0.0, -1.0]] * 8)
    d = torch.nn.functional.normalize(torch.randn(8, 3) * 0.1 + torch.tensor([0, 0, 1.0]), dim=-1)
    wc, ac = model.codes(torch.ones(8, dtype=torch.long))
    out = model.render(o, d, wc, ac, near=0.5, far=3.0, alpha=2.0, train=True)
    loss = model.interlevel(out)
    assert float(loss.detach()) > 0
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.proposal.parameters())
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.warp.parameters())
