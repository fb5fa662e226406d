"""Hash-grid encoding throughput, every backend side by side in one run on one device.

Prints points/s for forward, fwd+bwd (table gradient) and fwd+bwd+dL/dx for: the naive PyTorch
formulation (autograd), the reference backend, the compiled C kernel (CPU), ``torch.compile`` of the
PyTorch formulation, the fused Triton kernels and tiny-cuda-nn when installed; the ratios between them; and, on CUDA, a
same-run random-gather / atomic-add ceiling with the Triton figures as a fraction of it.

    .venv/bin/python benchmarks/hashgrid.py                       # CPU: 2^15 points
    .venv/bin/python benchmarks/hashgrid.py --sizes 18 20         # CUDA: 2^18 and 2^20 points
    .venv/bin/python benchmarks/hashgrid.py --smoke               # seconds-long check that it runs

Geometry: the paper's 16 levels x 2 features, T = 2^19, N_min 16, N_max 2048 (``--grid paper``),
or the cpu-preview preset's 8 x 2, T = 2^17, N_max 2048 (``--grid cpu-preview``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

GRIDS = {"paper": (16, 2, 19, 16, 2048), "cpu-preview": (8, 2, 17, 16, 2048), "smoke": (4, 2, 10, 4, 64)}
MODES = ("fwd", "fwd+bwd", "fwd+bwd+dx")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timeit(fn: Callable[[], object], device: torch.device, min_time: float, max_iters: int) -> float:
    """Median-free simple timer: warm up twice, then run until min_time has passed."""
    for _ in range(2):
        fn()
    sync(device)
    iters, t0 = 0, time.perf_counter()
    while True:
        fn()
        iters += 1
        sync(device)
        dt = time.perf_counter() - t0
        if dt >= min_time or iters >= max_iters:
            return dt / iters


def make_step(encode: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor,
              table: torch.Tensor, mode: str) -> Callable[[], object]:
    if mode == "fwd":
        def step() -> object:
            with torch.no_grad():
                return encode(x, table)
        return step
    need_dx = mode == "fwd+bwd+dx"
    xg = x.clone().requires_grad_(need_dx)

    def step_bwd() -> object:
        table.grad = None
        if xg.grad is not None:
            xg.grad = None
        out = encode(xg, table)
        out.backward(torch.ones_like(out))
        return out
    return step_bwd


def ceilings(n: int, geom, device: torch.device) -> dict[str, float]:
    """Same-run random-access ceilings: seconds for N·L·8 random 4-byte-pair gathers / atomic adds
    into a table of the encoding's size (indices computed in registers, like the kernels)."""
    import triton
    from _ceiling_kernels import atomic_kernel, gather_kernel

    size = geom.total_entries
    table16 = torch.zeros(size, 2, dtype=torch.float16, device=device)
    table32 = torch.zeros(size, 2, dtype=torch.float32, device=device)
    out = torch.empty(n, 2, device=device)
    block = 128
    grid = (triton.cdiv(n, block),)
    t_gather = timeit(lambda: gather_kernel[grid](table16, out, n, size, LEVELS=geom.levels, BLOCK=block),
                      device, 0.5, 200)
    t_atomic = timeit(lambda: atomic_kernel[grid](table32, n, size, LEVELS=geom.levels, BLOCK=block),
                      device, 0.5, 200)
    return {"gather": t_gather, "atomic": t_atomic}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--sizes", type=int, nargs="*", help="log2 of point counts (CPU: 15, CUDA: 18 20)")
    ap.add_argument("--grid", default="paper", choices=sorted(GRIDS))
    ap.add_argument("--compile", action="store_true", help="include torch.compile on CPU (slow to compile)")
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds per measurement")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, every code path, seconds (for tests)")
    args = ap.parse_args()

    if args.smoke and not torch.cuda.is_available():
        os.environ.setdefault("TRITON_INTERPRET", "1")
    from nerfie.recon.device import configure_threads, pick_device
    from nerfie.recon.hashgrid import GridGeometry, naive_encode, reference_encode
    from nerfie.recon.hashgrid.native_backend import native_encode, native_usable
    from nerfie.recon.hashgrid.tcnn_backend import TcnnEncoder, tcnn_usable
    from nerfie.recon.hashgrid.triton_backend import triton_encode, triton_usable

    threads = configure_threads()
    device = pick_device(args.device)
    geom = GridGeometry(*(GRIDS["smoke"] if args.smoke else GRIDS[args.grid]))
    sizes = args.sizes or ([8] if args.smoke else ([18, 20] if device.type == "cuda" else [15]))
    min_time = 0.0 if args.smoke else args.min_time
    max_iters = 1 if args.smoke else 1000
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {threads} threads"
    print(f"# hash-grid benchmark — {name} — torch {torch.__version__} — {time.strftime('%Y-%m-%d')}")
    print(f"# grid: {geom.levels} levels x {geom.features} features, T = 2^{geom.log2_table}, "
          f"N_min {geom.base_res}, N_max {geom.max_res} ({geom.total_entries:,} entries)")

    mask = torch.ones(geom.levels, device=device)
    lt = geom.level_tensors(device)
    variants: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
        "naive": lambda x, t: naive_encode(x, t, geom, mask),
        "reference": lambda x, t: reference_encode(x, t, geom, mask, lt),
    }
    notes = []
    if device.type == "cuda" or args.compile:
        variants["compiled"] = torch.compile(lambda x, t: naive_encode(x, t, geom, mask))
    else:
        notes.append("compiled: skipped on CPU (pass --compile)")
    ok, why = native_usable(device)
    if ok:
        variants["native"] = lambda x, t: native_encode(x, t, geom, mask)
    else:
        notes.append(f"native: not run ({why})")
    ok, why = triton_usable(device)
    if ok and (device.type == "cuda" or args.smoke):
        half = device.type == "cuda"
        variants["triton"] = lambda x, t: triton_encode(x, t, geom, mask, lt, half_table=half)
    else:
        notes.append(f"triton: not run ({why or 'CPU timings under the interpreter mean nothing'})")
    ok, why = tcnn_usable(device)
    if ok:
        tc = TcnnEncoder(geom, device)
        variants["tcnn"] = lambda x, t: tc(x, t, mask)
    else:
        notes.append(f"tinycudann: not run ({why})")
    for note in notes:
        print(f"# {note}")

    results: dict[tuple[str, int, str], float] = {}
    peaks: dict[tuple[str, int], float] = {}
    for log2n in sizes:
        n = 1 << log2n
        g = torch.Generator(device="cpu").manual_seed(0)
        x = torch.rand(n, 3, generator=g).to(device)
        table = (torch.rand(geom.total_entries, geom.features, generator=g) * 2e-4 - 1e-4).to(device)
        table.requires_grad_()
        print(f"\n## N = 2^{log2n} = {n:,} points — million points per second")
        print(f"{'variant':<11}" + "".join(f"{m:>14}" for m in MODES) + "   peak MiB")
        for vname, enc in variants.items():
            row = f"{vname:<11}"
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            for mode in MODES:
                try:
                    dt = timeit(make_step(enc, x, table, mode), device, min_time, max_iters)
                    results[(vname, log2n, mode)] = n / dt
                    row += f"{n / dt / 1e6:>14.2f}"
                except Exception as exc:  # keep the table going; say why a cell is empty
                    row += f"{'error':>14}"
                    print(f"# {vname} {mode}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}",
                          file=sys.stderr)
            if device.type == "cuda":
                peaks[(vname, log2n)] = torch.cuda.max_memory_allocated(device) / 2**20
                row += f"{peaks[(vname, log2n)]:>11.0f}"
            print(row)
        print("ratios (fwd / fwd+bwd / fwd+bwd+dx):")
        pairs = [("reference", "naive"), ("native", "reference"), ("compiled", "naive"), ("triton", "reference"),
                 ("triton", "compiled"), ("tcnn", "triton")]
        for a, b in pairs:
            cells = []
            for mode in MODES:
                ra, rb = results.get((a, log2n, mode)), results.get((b, log2n, mode))
                cells.append(f"{ra / rb:6.2f}x" if ra and rb else "     -")
            if any(c.strip() != "-" for c in cells):
                print(f"  {a:>9} / {b:<9} " + " ".join(cells))
        if "triton" in variants and (device.type == "cuda" or args.smoke):
            ceil = ceilings(n, geom, device)
            loads = n * geom.levels * 8
            print(f"ceiling: random gathers {loads / ceil['gather'] / 1e9:.1f} G/s "
                  f"({n / ceil['gather'] / 1e9:.3f} G pt/s equivalent); "
                  f"atomic adds {loads / ceil['atomic'] / 1e9:.1f} G/s")
            fwd = results.get(("triton", log2n, "fwd"))
            bwd = results.get(("triton", log2n, "fwd+bwd"))
            if fwd:
                print(f"  triton forward at {fwd / (n / ceil['gather']) * 100:.0f}% of the gather ceiling")
            if bwd:
                both = 1 / (ceil["gather"] + ceil["atomic"])
                print(f"  triton fwd+bwd at {bwd / (n * both) * 100:.0f}% of the gather+atomic ceiling")
    return 0


if __name__ == "__main__":
    sys.exit(main())
