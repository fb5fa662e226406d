"""The exported mesh is a closed surface around the subject, on the true surface, in data coordinates.

The fast tests stand in the synthetic scene's exact geometry (its union of ellipsoids as a density,
its exact depth as the renders) for a perfect model, so they check the extraction itself: the cube
around the subject, the level taken from the renders, closing the cut, winding, units, file formats.
The slow one trains a model on the static synthetic capture and measures its mesh.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from exact_scene import exact_scene

from nerfie.recon.config import preset, with_overrides
from nerfie.recon.errors import NerfieError
from nerfie.recon.importers import import_transforms
from nerfie.recon.synth.scene import ELLIPSOIDS
from nerfie.render.mesh import Mesh, MeshSpec, export_mesh, extract_mesh, mesh_bytes, read_mesh_ply
from nerfie.render.scene import TrainedScene

HEAD_RADIUS = 0.115  # the skull's largest semi-axis (recon.synth.scene)


def _gap(points: np.ndarray) -> np.ndarray:
    """Each point's normalised "outside-ness" of the subject (≤ 0 inside any ellipsoid, 0 on the surface)."""
    g = [np.linalg.norm((points - np.asarray(e.center)) / np.asarray(e.radii), axis=1) - 1 for e in ELLIPSOIDS]
    return np.min(g, axis=0)


def _distance_to_surface(points: np.ndarray) -> np.ndarray:
    """An upper bound of each point's distance to the subject's true surface (the union of its
    ellipsoids): the distance to the nearest radial projection onto an ellipsoid that lies on the
    union's surface (not inside another ellipsoid). Exact in the limit of a sphere."""
    best = np.full(len(points), np.inf)
    for e in ELLIPSOIDS:
        c, r = np.asarray(e.center), np.asarray(e.radii)
        q = (points - c) / r
        on = c + r * q / np.linalg.norm(q, axis=1, keepdims=True)
        d = np.linalg.norm(points - on, axis=1)
        best = np.where(_gap(on) > -1e-9, np.minimum(best, d), best)
    return best


def _winding_number(mesh: Mesh, point: np.ndarray) -> float:
    """How many times the surface wraps ``point`` (1 inside a closed, outward surface; 0 outside)."""
    a, b, c = (mesh.vertices[mesh.faces[:, k]] - point for k in range(3))
    la, lb, lc = (np.linalg.norm(x, axis=1) for x in (a, b, c))
    num = np.einsum("ij,ij->i", a, np.cross(b, c))
    den = la * lb * lc + np.einsum("ij,ij->i", a, b) * lc + np.einsum("ij,ij->i", b, c) * la \
        + np.einsum("ij,ij->i", c, a) * lb
    return float(2 * np.arctan2(num, den).sum() / (4 * np.pi))


def _exact_scene(capture: Path, project_root: Path) -> TrainedScene:
    """A scene whose density is the subject's true shape and whose renders are the exact depth."""
    scene = exact_scene(capture, project_root)
    ds = scene.dataset

    def density(points: torch.Tensor, time: float) -> torch.Tensor:
        data = points.double().numpy() / ds.scale + ds.center
        return torch.from_numpy(1000.0 / (1 + np.exp(_gap(data) / 0.02))).float()  # a smooth step at the surface

    scene.density = density  # type: ignore[method-assign]
    scene.color = lambda x, d, t: torch.full((len(x), 3), 0.25)  # type: ignore[method-assign]
    return scene


def test_the_mesh_of_the_exact_head_is_closed_around_it_and_on_its_surface(
        static_capture: tuple[Path, Path]) -> None:
    scene = _exact_scene(*static_capture)
    mesh = extract_mesh(scene, MeshSpec(resolution=96))
    centre = np.asarray(json.loads((static_capture[0] / "capture.json").read_text())["subject_center"])

    assert mesh.boundary_edges() == 0 and mesh.volume() > 0  # closed, faces outwards
    assert abs(_winding_number(mesh, centre) - 1) < 1e-6  # and around the head
    assert abs(mesh.level - 500.0) < 50  # the renders' surface sets the level: the step's midpoint
    # The cube's bottom cuts the neck; the cap it leaves is not the subject's surface. Everything else is.
    lo = mesh.vertices.min(0)
    off_cap = mesh.vertices[mesh.vertices[:, 2] > lo[2] + 0.01]
    dist = _distance_to_surface(off_cap)
    assert len(off_cap) > 0.9 * len(mesh.vertices)
    assert dist.max() <= 0.02 * HEAD_RADIUS and np.median(dist) <= 0.002 * HEAD_RADIUS


def test_mesh_files_open_as_ply_and_obj_with_colours(static_capture: tuple[Path, Path], tmp_path: Path) -> None:
    scene = _exact_scene(*static_capture)
    out = export_mesh(scene, MeshSpec(resolution=48), tmp_path / "head.ply")
    verts, faces, colours = read_mesh_ply(out)
    mesh = extract_mesh(scene, MeshSpec(resolution=48))
    assert np.allclose(verts, mesh.vertices, atol=1e-5) and (faces == mesh.faces).all()
    assert (colours == 64).all()  # the template's colour (0.25), as bytes
    obj = mesh_bytes(mesh, ".obj").decode().splitlines()
    assert sum(line.startswith("v ") for line in obj) == len(mesh.vertices)
    assert sum(line.startswith("f ") for line in obj) == len(mesh.faces)
    assert min(int(i) for line in obj if line.startswith("f ") for i in line.split()[1:]) == 1  # OBJ counts from 1


def test_a_wrong_extension_or_frame_is_refused(static_capture: tuple[Path, Path], tmp_path: Path) -> None:
    scene = _exact_scene(*static_capture)
    with pytest.raises(NerfieError, match=r"\.ply or \.obj"):
        export_mesh(scene, MeshSpec(resolution=16), tmp_path / "head.stl")
    with pytest.raises(NerfieError, match="does not exist"):
        extract_mesh(scene, MeshSpec(frame=99))


def test_floaters_are_dropped(static_capture: tuple[Path, Path]) -> None:
    scene = _exact_scene(*static_capture)
    solid = scene.density
    speck = torch.as_tensor(scene.focus + np.array([0.9, 0.9, 0.9]) * 1.5 * scene.subject_radius)

    def with_speck(points: torch.Tensor, time: float) -> torch.Tensor:
        near_speck = (points - speck.float()).norm(dim=-1) < 0.06 * scene.subject_radius
        return torch.where(near_speck, torch.tensor(1000.0), solid(points, time))

    scene.density = with_speck  # type: ignore[method-assign]
    kept = extract_mesh(scene, MeshSpec(resolution=64))
    everything = extract_mesh(scene, MeshSpec(resolution=64, min_component=0.0))
    speck_data = speck.numpy() / scene.dataset.scale + scene.dataset.center
    near = 0.2 * scene.subject_radius / scene.dataset.scale
    assert (np.linalg.norm(everything.vertices - speck_data, axis=1) < near).any()  # the speck was meshed
    assert not (np.linalg.norm(kept.vertices - speck_data, axis=1) < near).any()  # and dropped
    assert kept.boundary_edges() == 0


@pytest.mark.slow
def test_a_trained_models_mesh_is_closed_and_on_the_true_surface(static_capture: tuple[Path, Path],
                                                                  tmp_path: Path) -> None:
    from nerfie.recon.train import Trainer
    from nerfie.render.scene import load_scene

    capture, _ = static_capture
    cfg = with_overrides(preset("cpu-preview"), {"train.minutes": 4.0, "train.steps": 100000})
    proj = import_transforms(capture / "transforms.json", tmp_path / "proj", cfg)
    Trainer(proj).run()
    mesh = extract_mesh(load_scene(proj.root, "cpu"), MeshSpec())
    centre = np.asarray(json.loads((capture / "capture.json").read_text())["subject_center"])
    off_cap = mesh.vertices[mesh.vertices[:, 2] > mesh.vertices[:, 2].min() + 0.01]
    dist = _distance_to_surface(off_cap)
    scene_radius = 0.5 * float(np.ptp(np.load(capture / "depth.npy")))  # stands in for the room's size
    print(f"{len(mesh.vertices)} vertices; median {np.median(dist) * 1000:.1f} mm, "
          f"95th percentile {np.percentile(dist, 95) * 1000:.1f} mm from the true surface "
          f"(head radius {HEAD_RADIUS * 1000:.0f} mm); winding number at the head {_winding_number(mesh, centre):.3f}")
    assert mesh.boundary_edges() == 0 and abs(_winding_number(mesh, centre) - 1) < 1e-3
    assert np.median(dist) <= 0.02 * scene_radius
