"""Where training rays go: a coarse map of each training image's recent error (instant-ngp's error map).

Uniform rays spend a short budget on what is already right: on an object capture (D-NeRF's) four
fifths of the pixels are a white backdrop the model learns in a few hundred steps, and every later ray
there returns no gradient worth its cost. The map keeps, per cell of ``cell`` × ``cell`` pixels of every
training image, a running mean of the squared error of the rays that landed in it; a share of each
batch is drawn in proportion to it, the rest uniformly. So the rays follow the error wherever it is —
the object, its silhouette, a floater over the backdrop — without needing a mask (a mask-drawn share
leaves the backdrop beside the object thinly sampled, and haze grows there).

The loss is not re-weighted by the sampling probability: the objective then leans towards the pixels
the model gets wrong (instant-ngp trains the same way), and the uniform share keeps every pixel in it.
The map is stored in checkpoints, so a resumed run draws the rays an uninterrupted one would; a
checkpoint without one (written with uniform rays) starts from a fresh map, re-learnt within a few
hundred steps (every unvisited cell starts at the top of the map, so it is visited first).
"""

from __future__ import annotations

import torch

UNVISITED = 1.0  # a cell's starting value: above any pixel's realistic squared error, so it is drawn early
SMOOTHING = 0.5  # weight of a new observation in a cell's running mean (one ray's error is noisy)


class ErrorMap:
    """Per-cell running squared error of the training images; samples pixels in proportion to it."""

    def __init__(self, num_images: int, height: int, width: int, train: list[int], cell: int,
                 uniform_fraction: float, device: torch.device) -> None:
        self.H, self.W = height, width
        self.cell = max(1, int(cell))
        self.h, self.w = -(-height // self.cell), -(-width // self.cell)
        self.uniform_fraction = min(max(float(uniform_fraction), 0.0), 1.0)
        self.device = device
        self.train = torch.tensor(sorted(set(train)), device=device, dtype=torch.long)
        self.values = torch.zeros(num_images, self.h, self.w, device=device)
        self.values[self.train] = UNVISITED

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n`` pixels (image, y, x): a ``uniform_fraction`` share uniform over the training pixels,
        the rest drawn cell by cell in proportion to the map, uniform within the cell."""
        dev = self.device
        nu = round(self.uniform_fraction * n)
        ne = n - nu
        img_u = self.train[torch.randint(0, len(self.train), (nu,), device=dev, generator=generator)]
        yy_u = torch.randint(0, self.H, (nu,), device=dev, generator=generator)
        xx_u = torch.randint(0, self.W, (nu,), device=dev, generator=generator)
        if ne == 0:
            return img_u, yy_u, xx_u
        weights = self.values[self.train].flatten().clamp_min(1e-12)  # a perfect map still samples
        cells = torch.multinomial(weights, ne, replacement=True, generator=generator)
        per_image = self.h * self.w
        img_e = self.train[cells // per_image]
        cy, cx = cells % per_image // self.w, cells % self.w
        # Uniform within the cell; the last row and column of cells may stick out past the image.
        yy_e = (cy * self.cell + (torch.rand(ne, device=dev, generator=generator) * self.cell).long()).clamp(
            max=self.H - 1)
        xx_e = (cx * self.cell + (torch.rand(ne, device=dev, generator=generator) * self.cell).long()).clamp(
            max=self.W - 1)
        return torch.cat([img_u, img_e]), torch.cat([yy_u, yy_e]), torch.cat([xx_u, xx_e])

    @torch.no_grad()
    def update(self, img: torch.Tensor, yy: torch.Tensor, xx: torch.Tensor, sq_error: torch.Tensor) -> None:
        """Blend each ray's squared error (summed over RGB) into its cell's running mean; rays sharing a
        cell in one batch are averaged first (deterministic, whatever their order)."""
        idx = (img * self.h + yy // self.cell) * self.w + xx // self.cell
        cells, inverse = torch.unique(idx, return_inverse=True)
        total = torch.zeros(len(cells), device=self.device).index_add_(0, inverse, sq_error.float())
        mean = total / torch.bincount(inverse, minlength=len(cells)).float()
        flat = self.values.view(-1)
        flat[cells] = torch.lerp(flat[cells], mean, SMOOTHING)

    def restore(self, values: torch.Tensor | None) -> None:
        """Take a checkpoint's map; one of another shape (other frames or training size) or none leaves
        the fresh map, which re-learns itself."""
        if values is not None and values.shape == self.values.shape:
            self.values.copy_(values.to(self.device))
