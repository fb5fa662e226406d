"""``NerfieModel``: proposal sampler → deformation field → template, with per-frame codes.

The small surface the trainer, the evaluator, the viewport and the video renderer all use:
``render(origins, dirs, warp_code, appearance_code, near, far, ...)`` and the code helpers
(a training frame's codes, or codes interpolated between frames for in-between times).
"""

from __future__ import annotations

import torch
from torch import nn

from nerfie.recon.config import ModelConfig
from nerfie.recon.model.fields import DeformationField, ProposalField, TemplateField, init_codes
from nerfie.recon.model.rendering import (
    composite,
    interlevel_loss,
    s_to_t,
    sample_pdf,
    uniform_edges,
    weights_from_density,
)


def time_codes(n: int, dim: int) -> torch.Tensor:
    """[n, dim] codes on a smooth curve through time: sin/cos of π·k·t, k = 1 … dim/2, t = 0 → 1.

    Nerfies starts its GLO codes at U[0, 0.05): all frames look alike to the warp, which on a short CPU
    budget never learns to tell them apart (measured: the learnt warp was the same for every frame of the
    synthetic capture after 2000 steps; the head stayed blurred). Codes that start distinct, with
    neighbours in time close in code space, let it follow the motion from the first steps; they are
    still free parameters, so the warp is not tied to a rhythm.
    """
    t = torch.linspace(0, 1, max(n, 1))[:, None]
    k = torch.arange(1, dim // 2 + 1, dtype=torch.float32)[None]
    codes = torch.cat([torch.sin(torch.pi * k * t), torch.cos(torch.pi * k * t)], 1)
    return torch.cat([codes, torch.zeros(max(n, 1), dim - codes.shape[1])], 1)


class NerfieModel(nn.Module):
    def __init__(self, cfg: ModelConfig, num_frames: int, backend: str | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        be = backend or cfg.hash_backend
        self.template = TemplateField(cfg.hash_levels, cfg.hash_features, cfg.hash_log2_table, cfg.hash_base_res,
                                      cfg.hash_max_res, cfg.color_width, cfg.appearance_code_dim, backend=be,
                                      ambient_dim=cfg.ambient_dim)
        self.warp = (DeformationField(cfg.warp_freqs, cfg.warp_code_dim, cfg.warp_width, cfg.warp_depth, cfg.warp,
                                      reach=cfg.warp_reach, encoding=cfg.warp_encoding,
                                      hash_levels=cfg.warp_hash_levels, hash_log2_table=cfg.warp_hash_log2_table,
                                      hash_max_res=cfg.warp_hash_max_res, backend=be)
                     if cfg.warp != "none" else None)
        self.proposal = ProposalField(min(cfg.hash_log2_table, 17), 128 if cfg.hash_max_res <= 512 else 256,
                                      backend=be)
        self.warp_codes = init_codes(num_frames, cfg.warp_code_dim)
        if cfg.warp_code_init == "time":
            with torch.no_grad():
                self.warp_codes.weight.copy_(time_codes(num_frames, cfg.warp_code_dim))
        self.appearance_codes = init_codes(num_frames, cfg.appearance_code_dim)
        self.num_frames = num_frames
        # The ambient coordinates are a function of the warp code (so frames in between blend them as they
        # blend the warp), starting at zero: a static template until the photometric loss moves them.
        self.ambient = nn.Linear(cfg.warp_code_dim, cfg.ambient_dim) if cfg.ambient_dim > 0 else None
        if self.ambient is not None:
            nn.init.zeros_(self.ambient.weight)
            nn.init.zeros_(self.ambient.bias)

    def set_framing(self, center: torch.Tensor, radius: float) -> None:
        """Where the fine part of the grids sits (see :func:`fields.to_unit_cube`), and the frame the
        deformation field works in (see :class:`fields.DeformationField`)."""
        for f in (self.template, self.proposal, *([self.warp] if self.warp is not None else [])):
            f.center.copy_(torch.as_tensor(center, dtype=torch.float32))
            f.radius.fill_(float(radius))

    # ---- codes -----------------------------------------------------------------------------------

    def codes(self, frame_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.warp_codes(frame_ids), self.appearance_codes(frame_ids)

    def codes_at(self, time: float, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes at a fractional frame index ``time`` (linear blend of the two neighbouring frames)."""
        t = min(max(float(time), 0.0), self.num_frames - 1)
        i0 = int(t)
        i1 = min(i0 + 1, self.num_frames - 1)
        f = t - i0
        ids = torch.tensor([i0, i1], device=device)
        w, a = self.codes(ids)
        return ((1 - f) * w[0] + f * w[1]).expand(n, -1), ((1 - f) * a[0] + f * a[1]).expand(n, -1)

    @torch.no_grad()
    def fill_untrained_codes(self, trained_ids: list[int], times: list[float] | None = None) -> None:
        """Give every code no training ray ever reached (held-out frames) the blend of the nearest
        trained codes before and after it in time.

        Those rows keep their random initial values otherwise, so a held-out frame would be scored —
        and a render passing through its time would be drawn — with a deformation and appearance the
        model never learnt. They get no gradient, so overwriting them does not change training.
        """
        known = sorted({int(i) for i in trained_ids})
        known_set = set(known)
        if not known:
            return
        for emb in (self.warp_codes, self.appearance_codes):
            table = emb.weight
            for i in range(table.shape[0]):
                if i in known_set:
                    continue
                lo = max((k for k in known if k < i), default=None)
                hi = min((k for k in known if k > i), default=None)
                if lo is None or hi is None:
                    table[i] = table[hi if lo is None else lo]
                else:
                    f = ((times[i] - times[lo]) / (times[hi] - times[lo]) if times and times[hi] > times[lo]
                         else (i - lo) / (hi - lo))
                    table[i] = (1 - f) * table[lo] + f * table[hi]

    # ---- rendering --------------------------------------------------------------------------------

    def warp_points(self, x: torch.Tensor, warp_code: torch.Tensor, alpha: float) -> torch.Tensor:
        if self.warp is None:
            return x
        return self.warp(x, warp_code, alpha)

    def density_at(self, x_obs: torch.Tensor, warp_code: torch.Tensor,
                   alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Density and geometry feature at observation-space points [..., 3] with per-point warp codes
        [..., C]: through the deformation into the template, at the frame's ambient coordinates."""
        ambient = self.ambient(warp_code) if self.ambient is not None else None
        return self.template.density(self.warp_points(x_obs, warp_code, alpha), ambient)

    def render(self, origins: torch.Tensor, dirs: torch.Tensor, warp_code: torch.Tensor, appearance: torch.Tensor,
               near: float, far: float, alpha: float, train: bool = False, n_prop: int | None = None,
               n_fine: int | None = None, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Render rays [R, 3] with per-ray codes [R, C]."""
        n_prop = n_prop or self.cfg.proposal_samples[0]
        n_fine = n_fine or self.cfg.shaded_samples
        R = origins.shape[0]
        dev = origins.device
        nr = torch.full((R, 1), near, device=dev)
        fr = torch.full((R, 1), far, device=dev)
        # proposal round (see ModelConfig.proposal_space)
        pe = uniform_edges(R, n_prop, train, dev, generator)
        pt = s_to_t(pe, nr, fr)
        pmid = 0.5 * (pt[:, 1:] + pt[:, :-1])
        px = origins[:, None] + dirs[:, None] * pmid[..., None]
        if self.cfg.proposal_space == "template":
            with torch.no_grad():
                px = self.warp_points(px, warp_code[:, None].expand(-1, n_prop, -1), alpha)
        with torch.set_grad_enabled(train and torch.is_grad_enabled()):
            psigma = self.proposal(px)
        pw = weights_from_density(psigma, pt)
        # shaded round
        fe = sample_pdf(pe, pw.detach(), n_fine, deterministic=not train, generator=generator)
        ft = s_to_t(fe, nr, fr)
        fmid = 0.5 * (ft[:, 1:] + ft[:, :-1])
        x_obs = origins[:, None] + dirs[:, None] * fmid[..., None]  # [R, n, 3]
        wc = warp_code[:, None].expand(-1, n_fine, -1)
        sigma, geo = self.density_at(x_obs, wc, alpha)
        ac = appearance[:, None].expand(-1, n_fine, -1)
        rgb = self.template.color(geo, dirs[:, None].expand(-1, n_fine, -1), ac)
        w = weights_from_density(sigma, ft)
        out = composite(rgb, w, fmid, self.cfg.background)
        out.update(weights=w, t_mid=fmid, x_obs=x_obs, fine_edges=fe, prop_edges=pe, prop_weights=pw)
        return out

    def interlevel(self, out: dict[str, torch.Tensor]) -> torch.Tensor:
        return interlevel_loss(out["fine_edges"], out["weights"], out["prop_edges"], out["prop_weights"])
