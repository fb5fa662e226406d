"""Hash-grid encoding: geometry as tiny-cuda-nn, reference == naive autograd, Triton == reference."""

from __future__ import annotations

import io

import pytest
import torch

from nerfie.recon.errors import NerfieError
from nerfie.recon.hashgrid import (
    GridGeometry,
    HashGridEncoding,
    naive_encode,
    native_backend,
    reference_encode,
    window_weights,
)
from nerfie.recon.hashgrid.native_backend import native_encode, native_usable
from nerfie.recon.hashgrid.tcnn_backend import tcnn_usable
from nerfie.recon.hashgrid.triton_backend import triton_encode, triton_usable

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")

CONFIGS = [
    # (levels, features, log2_table, base_res, max_res)
    (4, 2, 10, 4, 64),  # dense and hashed levels
    (3, 4, 8, 2, 40),  # 4 features, tiny table: heavy hash collisions
    (5, 1, 12, 8, 300),  # 1 feature
    (2, 2, 16, 16, 32),  # all dense
]


def make_points(n: int, geom: GridGeometry, seed: int, lo: float = 0.0, hi: float = 1.0,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, generator=g, dtype=torch.float64) * (hi - lo) + lo).to(dtype)


def boundary_points(geom: GridGeometry, n: int = 64) -> torch.Tensor:
    """Points exactly on grid-cell boundaries of every level (pos = x·scale + 0.5 is an integer)."""
    pts = []
    g = torch.Generator().manual_seed(1)
    for level in range(geom.levels):
        s = geom.level_scale(level)
        k = torch.randint(0, int(s) + 1, (n, 3), generator=g).float()
        pts.append((k - 0.5) / s)
    return torch.cat(pts)


def random_table(geom: GridGeometry, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(geom.total_entries, geom.features, generator=g, dtype=torch.float64) - 0.5).to(dtype)


def grads(fn, x: torch.Tensor, table: torch.Tensor, seed: int = 0):
    x = x.clone().requires_grad_()
    table = table.clone().requires_grad_()
    out = fn(x, table)
    g = torch.Generator().manual_seed(seed)
    go = torch.randn(out.shape, generator=g, dtype=torch.float64).to(out.dtype).to(out.device)
    gx, gt = torch.autograd.grad(out, [x, table], go)
    return out.detach(), gx, gt


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-12)).item()


# ---- geometry -------------------------------------------------------------------------------


def test_paper_geometry_matches_tiny_cuda_nn() -> None:
    g = GridGeometry(16, 2, 19, 16, 2048)
    assert g.per_level_scale == pytest.approx(1.3819, abs=1e-4)
    assert g.total_entries == 6_098_120
    assert sum(g.level_is_dense(level) for level in range(16)) == 5
    assert g.level_resolution(0) == 16 and g.level_size(15) == 1 << 19


def test_window_weights_follow_the_nerfies_cosine() -> None:
    w = window_weights(2.5, 5)
    assert torch.allclose(w, torch.tensor([1.0, 1.0, 0.5, 0.0, 0.0]))
    assert torch.all(window_weights(0.0, 4) == 0) and torch.all(window_weights(4.0, 4) == 1)


# ---- reference vs naive autograd -------------------------------------------------------------


@pytest.mark.parametrize("cfg", CONFIGS)
def test_reference_matches_naive_autograd(cfg: tuple[int, ...]) -> None:
    geom = GridGeometry(*cfg)
    x = torch.cat([make_points(300, geom, 0, -0.3, 1.3, torch.float64), boundary_points(geom).double()])
    table = random_table(geom, 1, torch.float64)
    mask = torch.linspace(1, 0, geom.levels, dtype=torch.float64)
    a = grads(lambda p, t: naive_encode(p, t, geom, mask), x, table)
    b = grads(lambda p, t: reference_encode(p, t, geom, mask), x, table)
    for u, v in zip(a, b, strict=True):
        assert rel_err(v, u) < 1e-12


@pytest.mark.parametrize("cfg", CONFIGS)
def test_reference_matches_naive_autograd_inside_the_unit_cube(cfg: tuple[int, ...]) -> None:
    """The in-cube fast path (dense levels without the uint32 wrap) indexes exactly like the general one,
    up to points on the cube's faces and corners."""
    geom = GridGeometry(*cfg)
    faces = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.5], [0.0, 1.0, 1.0], [0.5, 1.0, 0.0]],
                         dtype=torch.float64)
    x = torch.cat([make_points(300, geom, 2, 0.0, 1.0, torch.float64), faces])
    table = random_table(geom, 3, torch.float64)
    mask = torch.ones(geom.levels, dtype=torch.float64)
    a = grads(lambda p, t: naive_encode(p, t, geom, mask), x, table)
    b = grads(lambda p, t: reference_encode(p, t, geom, mask), x, table)
    for u, v in zip(a, b, strict=True):
        assert rel_err(v, u) < 1e-12


def test_reference_gradients_pass_gradcheck_in_float64() -> None:
    geom = GridGeometry(3, 2, 8, 3, 20)
    x = make_points(400, geom, 5, dtype=torch.float64)
    # keep points a safe distance from cell boundaries, where the interpolant has kinks
    keep = torch.ones(x.shape[0], dtype=torch.bool)
    for level in range(geom.levels):
        frac = torch.frac(x * geom.level_scale(level) + 0.5)
        keep &= ((frac > 1e-3) & (frac < 1 - 1e-3)).all(-1)
    x = x[keep][:24].clone().requires_grad_()
    table = random_table(geom, 2, torch.float64).requires_grad_()
    mask = torch.tensor([1.0, 0.7, 0.2], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda p, t: reference_encode(p, t, geom, mask), (x, table))


def test_reference_backward_keeps_no_corner_intermediates() -> None:
    geom = GridGeometry(8, 2, 12, 4, 256)
    x = make_points(4096, geom, 0).requires_grad_()
    table = random_table(geom, 0).requires_grad_()
    out = reference_encode(x, table, geom, torch.ones(8))
    saved = out.grad_fn.saved_tensors
    saved_bytes = sum(t.numel() * t.element_size() for t in saved)
    assert saved_bytes <= x.numel() * 4 + table.numel() * 4 + 1024  # inputs only, not [N, L, 8, ...]


# ---- Triton kernels (CUDA, or Triton's interpreter on CPU) -------------------------------------


def _need_triton() -> None:
    ok, why = triton_usable(DEVICE)
    if not ok:
        pytest.fail(f"Triton kernels cannot run in the test environment: {why}")


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("points", ["inside", "outside", "boundary"])
def test_triton_matches_reference_outputs_and_both_gradients(cfg: tuple[int, ...], points: str) -> None:
    _need_triton()
    geom = GridGeometry(*cfg)
    if points == "inside":
        x = make_points(300, geom, 3)
    elif points == "outside":
        x = make_points(300, geom, 4, -0.6, 1.7)
    else:
        x = boundary_points(geom, 40)
    x, table = x.to(DEVICE), random_table(geom, 7).to(DEVICE)
    mask = torch.ones(geom.levels, device=DEVICE)
    mask[-1] = 0.3  # a partly annealed level
    mask[1] = 0.0  # a masked level
    lt = geom.level_tensors(DEVICE)
    ref = grads(lambda p, t: reference_encode(p, t, geom, mask, lt), x, table)
    tri = grads(lambda p, t: triton_encode(p, t, geom, mask, lt), x, table)
    for name, r, t in zip(("output", "dL/dx", "dL/dtable"), ref, tri, strict=True):
        assert rel_err(t, r) <= 1e-5, name
    assert torch.all(tri[0].reshape(-1, geom.levels, geom.features)[:, 1] == 0)


def test_triton_fp16_table_stays_close_with_fp32_gradients() -> None:
    _need_triton()
    geom = GridGeometry(4, 2, 10, 4, 64)
    x, table = make_points(256, geom, 9).to(DEVICE), random_table(geom, 3).to(DEVICE)
    mask = torch.ones(geom.levels, device=DEVICE)
    ref = grads(lambda p, t: reference_encode(p, t, geom, mask), x, table)
    half = grads(lambda p, t: triton_encode(p, t, geom, mask, half_table=True), x, table)
    assert half[2].dtype == torch.float32  # the master table gets an fp32 gradient
    assert rel_err(half[0], ref[0]) < 2e-3 and rel_err(half[2], ref[2]) < 1e-5


def test_a_checkpoint_moves_between_backends() -> None:
    _need_triton()
    a = HashGridEncoding(4, 2, 10, 4, 64, backend="torch").to(DEVICE)
    with torch.no_grad():
        a.table.copy_(random_table(a.geometry, 11).to(DEVICE))
    a.anneal(2.5)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = HashGridEncoding(4, 2, 10, 4, 64, backend="triton", half_table=False).to(DEVICE)
    b.load_state_dict(torch.load(buf, weights_only=True))
    x = make_points(200, a.geometry, 12).to(DEVICE)
    assert rel_err(b(x), a(x)) < 1e-5
    assert torch.equal(b.level_mask, a.level_mask)


# ---- the compiled CPU kernel -----------------------------------------------------------------


def _need_compiler() -> None:
    ok, why = native_usable("cpu")
    if not ok:
        pytest.skip(f"compiled CPU kernel not tested: {why} (the reference backend runs instead)")


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("points", ["inside", "outside", "boundary"])
def test_native_kernel_matches_reference_outputs_and_both_gradients(cfg: tuple[int, ...], points: str) -> None:
    _need_compiler()
    geom = GridGeometry(*cfg)
    if points == "inside":
        x = make_points(3000, geom, 3)  # more than one block of points and several prefetch groups
    elif points == "outside":
        x = make_points(300, geom, 4, -0.6, 1.7)  # negative corners wrap; dense rows past 2x the size
    else:
        x = boundary_points(geom, 40)
    table = random_table(geom, 7)
    mask = torch.ones(geom.levels)
    mask[-1] = 0.3  # a partly annealed level
    mask[1] = 0.0  # a masked level
    ref = grads(lambda p, t: reference_encode(p, t, geom, mask), x, table)  # float32, as the kernel
    nat = grads(lambda p, t: native_encode(p, t, geom, mask), x, table)
    for name, r, n in zip(("output", "dL/dx", "dL/dtable"), ref, nat, strict=True):
        assert rel_err(n, r) <= 1e-5, name
    assert nat[2].dtype == torch.float32
    assert torch.all(nat[0].reshape(-1, geom.levels, geom.features)[:, 1] == 0)


def test_native_kernel_gives_the_same_result_on_one_thread_and_many() -> None:
    _need_compiler()
    geom = GridGeometry(8, 2, 14, 16, 1024)
    x, table = make_points(5000, geom, 8), random_table(geom, 9)
    mask = torch.ones(geom.levels)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = grads(lambda p, t: native_encode(p, t, geom, mask), x, table)
        torch.set_num_threads(max(2, threads))
        many = grads(lambda p, t: native_encode(p, t, geom, mask), x, table)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(one, many, strict=True):
        assert torch.equal(a, b)  # levels own disjoint table slices: no race, no order dependence


def test_a_checkpoint_trained_with_the_kernel_loads_into_the_reference() -> None:
    _need_compiler()
    a = HashGridEncoding(4, 2, 10, 4, 64, backend="native")
    with torch.no_grad():
        a.table.copy_(random_table(a.geometry, 11))
    a.anneal(2.5)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = HashGridEncoding(4, 2, 10, 4, 64, backend="torch")
    b.load_state_dict(torch.load(buf, weights_only=True))
    x = make_points(200, a.geometry, 12)
    assert rel_err(b(x), a(x)) < 1e-6


def test_tinycudann_matches_reference_where_installed() -> None:
    ok, why = tcnn_usable(DEVICE)
    if not ok:
        pytest.skip(f"tiny-cuda-nn parity not run: {why}")
    a = HashGridEncoding(8, 2, 15, 16, 512, backend="torch").to(DEVICE)
    b = HashGridEncoding(8, 2, 15, 16, 512, backend="tcnn").to(DEVICE)
    with torch.no_grad():
        t = random_table(a.geometry, 5).to(DEVICE)
        a.table.copy_(t)
        b.table.copy_(t)
    x = make_points(4096, a.geometry, 6).to(DEVICE)
    assert rel_err(b(x), a(x)) < 1e-4


# ---- the module's interface ------------------------------------------------------------------


def test_module_encodes_any_leading_shape_and_reports_its_backend() -> None:
    enc = HashGridEncoding(4, 2, 10, 4, 64, backend="torch")
    out = enc(torch.rand(5, 7, 3))
    assert out.shape == (5, 7, 8)
    assert enc.output_dim == 8
    assert enc.resolve_backend(torch.device("cpu")) == "torch"


def test_auto_backend_on_cpu_is_the_compiled_kernel_and_says_why() -> None:
    _need_compiler()
    enc = HashGridEncoding(4, 2, 10, 4, 64)
    assert enc.resolve_backend(torch.device("cpu")) == "native"
    assert "compiled" in enc.backend_reason


def test_without_a_compiler_auto_keeps_the_reference_and_native_names_the_fix(
        monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(native_backend, "_LIB", None)
    monkeypatch.setattr(native_backend, "_WHY_NOT", None)
    monkeypatch.setattr(native_backend, "_compiler", lambda: None)
    monkeypatch.setenv("NERFIE_KERNEL_CACHE", str(tmp_path))
    enc = HashGridEncoding(4, 2, 10, 4, 64)
    assert enc.resolve_backend(torch.device("cpu")) == "torch"
    assert "no C compiler" in enc.backend_reason
    assert enc(torch.rand(6, 3)).shape == (6, 8)  # trains on, with the reference
    with pytest.raises(NerfieError, match="cannot run here") as err:
        HashGridEncoding(4, 2, 10, 4, 64, backend="native")(torch.rand(6, 3))
    assert "hash_backend=auto" in err.value.advice


def test_a_broken_compiler_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(native_backend, "_LIB", None)
    monkeypatch.setattr(native_backend, "_WHY_NOT", None)
    monkeypatch.setattr(native_backend, "_compiler", lambda: "false")  # exits 1 whatever it is given
    monkeypatch.setenv("NERFIE_KERNEL_CACHE", str(tmp_path))
    ok, why = native_usable("cpu")
    assert not ok and "could not build" in why
    assert list(tmp_path.iterdir()) == []  # no half-written library left behind


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (torch.rand(10, 2), r"shape \[\.\.\., 3\]"),
        (torch.randint(0, 5, (10, 3)), "floating-point"),
        (torch.rand(10, 3, device="meta"), "Move one of them"),
    ],
)
def test_bad_positions_give_a_clear_error(x: torch.Tensor, match: str) -> None:
    with pytest.raises(NerfieError, match=match):
        HashGridEncoding(4, 2, 10, 4, 64, backend="torch")(x)


def test_unknown_backend_and_invalid_geometry_are_refused() -> None:
    with pytest.raises(NerfieError, match="Use one of"):
        HashGridEncoding(backend="cuda-magic")
    with pytest.raises(NerfieError, match="Invalid hash grid"):
        HashGridEncoding(levels=0)


def test_triton_without_cuda_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the error path is for CPU-only machines")
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    enc = HashGridEncoding(4, 2, 10, 4, 64, backend="triton")
    with pytest.raises(NerfieError, match="need a CUDA GPU") as err:
        enc(torch.rand(4, 3))
    assert "backend='torch'" in err.value.advice


def test_the_benchmark_script_runs_every_code_path() -> None:
    """Not a timing: proves benchmarks/hashgrid.py (incl. its Triton ceiling kernels) runs end to end."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "hashgrid.py"
    res = subprocess.run([sys.executable, str(script), "--smoke"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "reference / naive" in res.stdout and "error" not in res.stdout
    if triton_usable(DEVICE)[0]:
        assert "ceiling: random gathers" in res.stdout
