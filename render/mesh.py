"""A coloured, closed mesh of the subject at one moment, by marching cubes on the Nerfie's density.

The density is sampled on a cube around the subject estimate (``extent`` subject radii on each side
of its centre) in the chosen frame's observation space: every grid point goes through that frame's
deformation into the template, as a ray sample does when that frame is rendered. The cube's outer
layer is set empty, so the surface is closed where the cube cuts the subject (the neck, below a head).

Which density is "the surface" differs between trainings by orders of magnitude (a NeRF's density
has no unit of its own), so the level is the model's own: the median density at the points where
its renders of the input views put the subject's surface (expected depth, opacity ≥ 0.9). The mesh
then sits where the renders and the depth outputs say the surface is. Not the median depth the point
cloud uses: that lands on the sample that stops most of the light, inside the surface, where the
density is far above where the surface begins (measured: a level from it meshed noise, not the head).

Marching cubes is PyMCubes (a small compiled library with wheels for Linux, macOS and Windows).
Vertices are in the project's data coordinates (its ``transforms.json`` world, units and axes);
colours are the template's colour seen from the mean input camera, with that frame's appearance.
PLY (binary, vertex colours, triangles) and OBJ (``v x y z r g b``, the extension MeshLab and
Blender read) are written atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nerfie.recon.errors import NerfieError
from nerfie.recon.events import Cancelled, EventSink, Progress, StageDone, ignore
from nerfie.recon.fileio import write_bytes_atomic
from nerfie.render.point_cloud import chosen_frame, subject_mask
from nerfie.render.scene import TrainedScene


@dataclass(frozen=True)
class MeshSpec:
    frame: int | None = None  # the moment shown; None: the middle frame
    resolution: int = 160  # grid cells along the cube's side
    extent: float = 1.6  # the cube's half-side, in subject radii
    level: float | None = None  # density of the surface; None: the model's own (see module docstring)
    min_component: float = 0.1  # pieces smaller than this fraction of the largest are floaters: dropped
    chunk: int = 65536  # grid points per density evaluation


@dataclass
class Mesh:
    vertices: np.ndarray  # [V, 3] float64, data coordinates
    faces: np.ndarray  # [F, 3] int64, counter-clockwise seen from outside
    colors: np.ndarray  # [V, 3] uint8
    level: float  # the density level used

    def boundary_edges(self) -> int:
        """Edges not shared by exactly two triangles (0 for a closed surface)."""
        e = np.sort(np.concatenate([self.faces[:, [0, 1]], self.faces[:, [1, 2]], self.faces[:, [2, 0]]]), axis=1)
        _, counts = np.unique(e, axis=0, return_counts=True)
        return int((counts != 2).sum())

    def volume(self) -> float:
        """Signed volume enclosed (positive when the triangles face outwards)."""
        a, b, c = (self.vertices[self.faces[:, k]] for k in range(3))
        return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _density_on_grid(scene: TrainedScene, frame: int, lo: np.ndarray, cell: float, n: int, chunk: int,
                     on_event: EventSink, cancelled: Callable[[], bool]) -> np.ndarray:
    axis = np.arange(n + 1, dtype=np.float64) * cell
    grid = np.zeros((n + 1,) * 3, dtype=np.float32)
    pts = np.stack(np.meshgrid(axis + lo[0], axis + lo[1], axis + lo[2], indexing="ij"), -1).reshape(-1, 3)
    flat = grid.reshape(-1)
    total = len(pts)
    for k, start in enumerate(range(0, total, chunk)):
        if cancelled():
            raise Cancelled()
        x = torch.from_numpy(pts[start:start + chunk]).float().to(scene.device)
        flat[start:start + len(x)] = scene.density(x, float(frame)).cpu().numpy()
        if k % 16 == 0:
            on_event(Progress("export", min(start + chunk, total), total, "mesh: sampling the density"))
    return grid


def surface_level(scene: TrainedScene, frame: int, inside: Callable[[np.ndarray], np.ndarray],
                  views: int = 6, long_side: int = 96) -> float:
    """The median density where the model's renders of input views put the subject's surface."""
    n = len(scene.cameras)
    picked = sorted({round(i) for i in np.linspace(0, n - 1, min(views, n))})
    samples = []
    for view in picked:
        cam = scene.cameras[view]
        factor = max(cam.width, cam.height) / long_side
        small = cam.scaled(factor) if factor > 1 else cam
        out = scene.render(small, float(frame))
        keep = out["acc"].cpu().numpy() >= 0.9
        mask = subject_mask(scene, view, small.width, small.height)
        if mask is not None:
            keep &= mask
        sel = torch.from_numpy(keep)
        p = small.unproject(small.pixel_centers(dtype=torch.float64)[sel], out["depth"].double().cpu()[sel]).numpy()
        p = p[inside(p)]
        if len(p):
            samples.append(scene.density(torch.from_numpy(p).float().to(scene.device), float(frame)).cpu().numpy())
    values = np.concatenate(samples) if samples else np.zeros(0)
    if len(values) < 20:
        raise NerfieError("The model shows no solid surface around the subject yet.",
                          "Train longer, then export the mesh again.")
    return float(np.median(values))


def _keep_large_pieces(verts: np.ndarray, faces: np.ndarray, min_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Drop connected pieces with fewer faces than ``min_fraction`` of the largest (floaters)."""
    from scipy.sparse import coo_matrix  # scipy and mcubes load only when a mesh is made
    from scipy.sparse.csgraph import connected_components

    if not len(faces):
        return verts, faces
    rows = np.repeat(np.arange(len(faces)), 3)
    adj = coo_matrix((np.ones(len(rows)), (faces.reshape(-1), rows)), shape=(len(verts), len(faces))).tocsr()
    n_comp, label = connected_components(adj @ adj.T, directed=False)
    face_label = label[faces[:, 0]]
    sizes = np.bincount(face_label, minlength=n_comp)
    keep_faces = faces[sizes[face_label] >= min_fraction * sizes.max()]
    used = np.unique(keep_faces)
    remap = np.full(len(verts), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return verts[used], remap[keep_faces]


def extract_mesh(scene: TrainedScene, spec: MeshSpec, on_event: EventSink = ignore,
                 cancelled: Callable[[], bool] = lambda: False) -> Mesh:
    """The subject's surface at ``spec.frame`` (data coordinates), closed and outward-facing."""
    frame = chosen_frame(scene, spec.frame)
    radius = spec.extent * (scene.subject_radius or 0.25)
    lo = np.asarray(scene.focus, dtype=np.float64) - radius
    cell = 2 * radius / spec.resolution

    def inside(p: np.ndarray) -> np.ndarray:
        return np.all((p > lo) & (p < lo + 2 * radius), axis=1)

    level = spec.level if spec.level is not None else surface_level(scene, frame, inside)
    grid = _density_on_grid(scene, frame, lo, cell, spec.resolution, spec.chunk, on_event, cancelled)
    for axis in range(3):  # an empty outer layer closes the surface where the cube cuts the subject
        index = [slice(None)] * 3
        for end in (0, -1):
            index[axis] = end
            grid[tuple(index)] = 0.0
    import mcubes

    verts, faces = mcubes.marching_cubes(grid, level)
    verts, faces = _keep_large_pieces(np.asarray(verts, np.float64), np.asarray(faces, np.int64),
                                      spec.min_component)
    if not len(faces):
        raise NerfieError(f"No surface at density {level:.3g} inside the subject's cube.",
                          "Train longer, or export a point cloud instead.")
    p = verts * cell + lo  # grid index → normalised frame
    colors = _vertex_colors(scene, frame, p)
    # PyMCubes winds triangles counter-clockwise seen from the lower values: outwards for a density.
    return Mesh(p / scene.dataset.scale + scene.dataset.center, faces, colors, level)


@torch.no_grad()
def _vertex_colors(scene: TrainedScene, frame: int, points: np.ndarray) -> np.ndarray:
    """The template's colour at each vertex, seen from the mean input camera, with the frame's look."""
    eye = np.mean([c.position for c in scene.cameras], axis=0)
    out = []
    for start in range(0, len(points), 65536):
        x = torch.from_numpy(points[start:start + 65536]).float().to(scene.device)
        dirs = torch.nn.functional.normalize(x - torch.as_tensor(eye, dtype=torch.float32, device=x.device), dim=-1)
        out.append(scene.color(x, dirs, float(frame)).clamp(0, 1).cpu().numpy())
    rgb = np.concatenate(out) if out else np.zeros((0, 3))
    return (rgb * 255 + 0.5).astype(np.uint8)


def mesh_bytes(mesh: Mesh, suffix: str) -> bytes:
    """The file's content: binary PLY (``.ply``) or OBJ with vertex colours (``.obj``)."""
    if suffix == ".obj":
        rgb = mesh.colors / 255.0
        lines = [f"# Nerfie mesh: {len(mesh.vertices)} vertices, {len(mesh.faces)} triangles, data coordinates"]
        lines += [f"v {x:.6f} {y:.6f} {z:.6f} {r:.4f} {g:.4f} {b:.4f}"
                  for (x, y, z), (r, g, b) in zip(mesh.vertices, rgb, strict=True)]
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in mesh.faces]
        return ("\n".join(lines) + "\n").encode()
    if suffix != ".ply":
        raise NerfieError(f"A mesh cannot be written as '{suffix}'.", "Name the file .ply or .obj.")
    header = ("ply\nformat binary_little_endian 1.0\n"
              f"element vertex {len(mesh.vertices)}\n"
              "property float x\nproperty float y\nproperty float z\n"
              "property uchar red\nproperty uchar green\nproperty uchar blue\n"
              f"element face {len(mesh.faces)}\nproperty list uchar int vertex_indices\nend_header\n").encode()
    v = np.zeros(len(mesh.vertices), dtype=[("p", "<f4", 3), ("c", "u1", 3)])
    v["p"], v["c"] = mesh.vertices, mesh.colors
    f = np.zeros(len(mesh.faces), dtype=[("n", "u1"), ("i", "<i4", 3)])
    f["n"], f["i"] = 3, mesh.faces
    return header + v.tobytes() + f.tobytes()


def read_mesh_ply(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices, faces and colours of a PLY written by :func:`mesh_bytes` (for tests and round trips)."""
    data = path.read_bytes()
    end = data.find(b"end_header\n") + len(b"end_header\n")
    head = data[:end].decode().splitlines()
    nv = next(int(line.split()[2]) for line in head if line.startswith("element vertex"))
    nf = next(int(line.split()[2]) for line in head if line.startswith("element face"))
    v = np.frombuffer(data, dtype=[("p", "<f4", 3), ("c", "u1", 3)], count=nv, offset=end)
    f = np.frombuffer(data, dtype=[("n", "u1"), ("i", "<i4", 3)], count=nf, offset=end + v.nbytes)
    return v["p"].astype(np.float64), f["i"].astype(np.int64), v["c"].copy()


def export_mesh(scene: TrainedScene, spec: MeshSpec, out: Path, on_event: EventSink = ignore,
                cancelled: Callable[[], bool] = lambda: False) -> Path:
    """Write the mesh to ``out`` (.ply or .obj), atomically; returns ``out``."""
    suffix = out.suffix.lower()
    if suffix not in (".ply", ".obj"):
        raise NerfieError(f"A mesh cannot be written as '{out.suffix}'.", "Name the file .ply or .obj.")
    mesh = extract_mesh(scene, spec, on_event, cancelled)
    write_bytes_atomic(out, mesh_bytes(mesh, suffix))
    on_event(StageDone("export", f"mesh: {len(mesh.vertices)} vertices, {len(mesh.faces)} triangles → {out}"))
    return out
