"""Network pieces: windowed positional encoding, the deformation fields, the template, the proposal.

The template is a multiresolution hash grid on *contracted* coordinates (mip-NeRF 360): points
inside the unit ball (the normalised scene, diagonal ~1) are untouched, the unbounded background
is squashed into the shell 1 < ‖x‖ < 2, so the wall behind a selfie gets grid cells too instead of
smearing into the face.
"""

from __future__ import annotations

import torch
from torch import nn

from nerfie.recon.hashgrid import HashGridEncoding, window_weights
from nerfie.recon.model.se3 import apply_se3


def contract(x: torch.Tensor) -> torch.Tensor:
    """mip-NeRF 360 contraction: identity inside ‖x‖ ≤ 1, ``(2 − 1/‖x‖)·x/‖x‖`` outside."""
    n = torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(1e-9)
    return torch.where(n <= 1, x, (2 - 1 / n) * x / n)


def to_unit_cube(x: torch.Tensor, center: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """World → the hash grid's [0, 1]³: centred on the cameras' focus, the ball holding the cameras
    mapped to the unit ball (so the subject gets the grid's resolution), the rest contracted."""
    return (contract((x - center) / radius) + 2) / 4


def posenc(x: torch.Tensor, num_freqs: int, alpha: float | None = None, identity: bool = True) -> torch.Tensor:
    """Nerfies' encoding: [x, sin(2^k x)…, cos(2^k x)…] for k < num_freqs (no π), each band scaled by the
    coarse-to-fine window w_k(α) when ``alpha`` is given (the identity part is never windowed)."""
    freqs = 2.0 ** torch.arange(num_freqs, dtype=x.dtype, device=x.device)
    xb = x[..., None, :] * freqs[:, None]  # [..., F, D]
    s, c = torch.sin(xb), torch.cos(xb)
    if alpha is not None:
        w = window_weights(alpha, num_freqs).to(x)[:, None]
        s, c = s * w, c * w
    parts = [s.flatten(-2), c.flatten(-2)]
    return torch.cat([x, *parts] if identity else parts, dim=-1)


def posenc_dim(d: int, num_freqs: int, identity: bool = True) -> int:
    return d * (2 * num_freqs + (1 if identity else 0))


class MLP(nn.Module):
    """ReLU MLP with an optional skip (input concatenated before layer ``skip``), Xavier init."""

    def __init__(self, d_in: int, width: int, depth: int, d_out: int, skip: int | None = None) -> None:
        super().__init__()
        self.skip = skip
        layers = []
        d = d_in
        for i in range(depth):
            if skip is not None and i == skip:
                d += d_in
            layers.append(nn.Linear(d, width))
            d = width
        self.layers = nn.ModuleList(layers)
        self.out = nn.Linear(d, d_out) if d_out else None
        for lin in self.layers:
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for i, lin in enumerate(self.layers):
            if self.skip is not None and i == self.skip:
                h = torch.cat([h, x], -1)
            h = lin(h)
            # In place when nothing will backpropagate (rendering): saves one full-size allocation per layer.
            h = torch.relu_(h) if not torch.is_grad_enabled() else torch.relu(h)
        return self.out(h) if self.out is not None else h


class _Framed(nn.Module):
    """A field with a world → grid framing (focus centre and radius), stored with the weights."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("center", torch.zeros(3))
        self.register_buffer("radius", torch.ones(()))

    def grid_coords(self, x: torch.Tensor) -> torch.Tensor:
        return to_unit_cube(x, self.center, self.radius)


class DeformationField(_Framed):
    """T(x, ω): observation-space point + per-frame code → template-space point.

    ``kind="se3"``: rotation and translation heads → screw exponential (Nerfies); ``"translation"``:
    x + Δ (the ablation). Heads start ~U[0, 1e-4) with zero bias, so the warp starts at identity.

    The field works in the model's framing (focus centre, fine-ball radius), not in the scene's units:
    the positional encoding's frequencies (2^0 … 2^(m−1), as Nerfies) are meant for a subject about one
    unit across, while a selfie's head is ~0.1 scene units — in scene units even the finest band is
    wider than the head, and the warp could not tell the turning head from the still shoulders.
    The map is conjugated by the framing, so its Jacobian (the elastic loss) is unchanged by it.
    With ``reach > 0`` only points within ``reach`` fine-ball radii of the focus move (the displacement
    fades out over the last quarter); 0 lets the warp act everywhere, as in Nerfies.
    """

    def __init__(self, num_freqs: int, code_dim: int, width: int, depth: int, kind: str = "se3",
                 reach: float = 0.0, encoding: str = "posenc", hash_levels: int = 8, hash_log2_table: int = 15,
                 hash_max_res: int = 256, backend: str = "auto") -> None:
        super().__init__()
        self.num_freqs, self.kind, self.reach = num_freqs, kind, float(reach)
        self.grid = (HashGridEncoding(hash_levels, 2, hash_log2_table, min(16, hash_max_res), hash_max_res,
                                      backend=backend)
                     if encoding == "hashgrid" else None)
        d_in = (3 + self.grid.output_dim if self.grid is not None else posenc_dim(3, num_freqs)) + code_dim
        self.trunk = MLP(d_in, width, depth, 0, skip=4 if depth > 4 else None)
        self.head_r = nn.Linear(width, 3)
        self.head_v = nn.Linear(width, 3)
        for h in (self.head_r, self.head_v):
            nn.init.uniform_(h.weight, 0, 1e-4)
            nn.init.zeros_(h.bias)

    def forward(self, x: torch.Tensor, code: torch.Tensor, alpha: float) -> torch.Tensor:
        xl = (x - self.center) / self.radius
        if self.reach <= 0:
            return self._warp_local(xl, code, alpha) * self.radius + self.center
        # Only the subject's neighbourhood moves: the displacement fades out (cosine) between 0.75·reach
        # and reach (in fine-ball radii) and the MLP is not evaluated beyond — ~65 % of the shaded
        # samples of the synthetic selfie lie on the room behind, which a selfie's subject never moves.
        shape = xl.shape
        flat, cflat = xl.reshape(-1, 3), code.reshape(-1, code.shape[-1])
        r = torch.linalg.vector_norm(flat, dim=-1)
        inside = torch.nonzero(r < self.reach).squeeze(-1)
        xi = flat.index_select(0, inside)
        fade = fade_weight(r.index_select(0, inside), 0.75 * self.reach, self.reach)[:, None]
        moved = xi + fade * (self._warp_local(xi, cflat.index_select(0, inside), alpha) - xi)
        yl = flat.index_copy(0, inside, moved).reshape(shape)
        return yl * self.radius + self.center

    def encode(self, xl: torch.Tensor, alpha: float) -> torch.Tensor:
        """Where a point is, as the trunk sees it. With the hash grid: the point itself beside the grid's
        levels, windowed by the same coarse-to-fine α as the bands (α runs 0 → ``num_freqs``, so the grid's
        levels come on in step with them); the grid spans the warp's reach (2 fine-ball radii where
        the warp acts everywhere) and clamps beyond."""
        if self.grid is None:
            return posenc(xl, self.num_freqs, alpha)
        levels = self.grid.geometry.levels
        window = window_weights(levels * min(max(alpha / max(self.num_freqs, 1), 0.0), 1.0), levels)
        # Set only when α moved: the warp runs several times a step (render, elastic, background) and an
        # in-place write would invalidate the mask the earlier calls saved for their backward pass.
        if not torch.equal(window.to(self.grid.level_mask), self.grid.level_mask):
            self.grid.set_level_mask(window)
        span = self.reach if self.reach > 0 else 2.0
        u = (xl / (2 * span) + 0.5).clamp(0, 1)
        return torch.cat([xl, self.grid(u)], -1)

    def _warp_local(self, xl: torch.Tensor, code: torch.Tensor, alpha: float) -> torch.Tensor:
        h = self.trunk(torch.cat([self.encode(xl, alpha), code], -1))
        if self.kind == "translation":
            return xl + self.head_v(h)
        return apply_se3(self.head_r(h), self.head_v(h), xl)


def fade_weight(r: torch.Tensor, start: float, end: float) -> torch.Tensor:
    """1 for r ≤ start, 0 for r ≥ end, a half cosine between (C¹, so the warp's Jacobian is continuous)."""
    u = ((r - start) / max(end - start, 1e-9)).clamp(0, 1)
    return 0.5 * (1 + torch.cos(torch.pi * u))


class TemplateField(_Framed):
    """Canonical radiance field: hash grid → density + geometry feature; colour from the feature,
    the view direction (spherical-harmonic-free PE, 4 bands) and the per-frame appearance code."""

    def __init__(self, levels: int, features: int, log2_table: int, base_res: int, max_res: int, width: int,
                 appearance_dim: int, backend: str = "auto", geo_dim: int = 15, ambient_dim: int = 0) -> None:
        super().__init__()
        self.grid = HashGridEncoding(levels, features, log2_table, base_res, max_res, backend=backend)
        self.ambient_dim = ambient_dim
        self.density_net = MLP(self.grid.output_dim + ambient_dim, width, 1, 1 + geo_dim)
        self.dir_freqs = 4
        self.color_net = MLP(geo_dim + posenc_dim(3, self.dir_freqs) + appearance_dim, width, 2, 3)

    def density(self, x: torch.Tensor, ambient: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Density and geometry feature at template points [..., 3]; ``ambient`` [..., A]: the frame's
        ambient coordinates when the template has them (``ambient_dim`` > 0), else ignored."""
        feats = self.grid(self.grid_coords(x))
        if self.ambient_dim:
            if ambient is None:
                ambient = feats.new_zeros((*feats.shape[:-1], self.ambient_dim))
            feats = torch.cat([feats, ambient.to(feats.dtype)], -1)
        h = self.density_net(feats)
        sigma = torch.exp(torch.clamp(h[..., 0] - 1.0, max=15.0))  # truncated exp, biased to start empty
        return sigma, h[..., 1:]

    def color(self, geo: torch.Tensor, dirs: torch.Tensor, appearance: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.color_net(torch.cat([geo, posenc(dirs, self.dir_freqs), appearance], -1)))


class ProposalField(_Framed):
    """A small density-only hash grid that tells the sampler where matter is, trained to bound the full
    model's weights (interlevel loss); queried at warped points or unwarped ones (``ModelConfig.proposal_space``)."""

    def __init__(self, log2_table: int = 15, max_res: int = 128, backend: str = "auto") -> None:
        super().__init__()
        self.grid = HashGridEncoding(5, 2, log2_table, 16, max_res, backend=backend)
        self.net = MLP(self.grid.output_dim, 16, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(torch.clamp(self.net(self.grid(self.grid_coords(x)))[..., 0] - 1.0, max=15.0))


def init_codes(n: int, dim: int) -> nn.Embedding:
    emb = nn.Embedding(max(n, 1), dim)
    nn.init.uniform_(emb.weight, 0, 0.05)
    return emb


