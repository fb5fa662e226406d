"""Error-map ray sampling (``train.ray_sampling = "error"``): rays follow what the model still gets wrong."""

from __future__ import annotations

import torch

from nerfie.recon.error_map import UNVISITED, ErrorMap


def _map(uniform: float = 0.25) -> ErrorMap:
    # 4 images of 32 × 24 pixels in 8-pixel cells (4 × 3 cells each); image 3 is held out
    return ErrorMap(4, 24, 32, train=[0, 1, 2], cell=8, uniform_fraction=uniform, device=torch.device("cpu"))


def test_rays_go_where_the_error_is_and_a_uniform_share_goes_everywhere() -> None:
    m = _map(uniform=0.25)
    m.values[:] = 0.0
    m.values[1, 2, 3] = 0.5  # one cell of image 1 (rows 16–23, columns 24–31) is wrong; the rest is right
    img, yy, xx = m.sample(4000, torch.Generator().manual_seed(0))
    assert len(img) == 4000
    in_cell = (img == 1) & (yy >= 16) & (xx >= 24)
    # the error share (3 000 rays) all lands in the cell, the uniform share ~1/36 of its 1 000 rays
    assert 3000 <= int(in_cell.sum()) <= 3000 + 80
    # the uniform share still reaches every training image, and no ray ever reaches the held-out one
    assert set(img[:1000].tolist()) == {0, 1, 2} and not bool((img == 3).any())
    assert int(yy.max()) <= 23 and int(xx.max()) <= 31


def test_cells_nobody_has_visited_come_first() -> None:
    m = _map(uniform=0.0)
    assert float(m.values[0].min()) == UNVISITED and float(m.values[3].max()) == 0.0
    m.values[:3] = 0.01  # every cell visited and nearly right …
    m.values[2, 0, 0] = UNVISITED  # … but one
    img, yy, xx = m.sample(1000, torch.Generator().manual_seed(1))
    assert float(((img == 2) & (yy < 8) & (xx < 8)).float().mean()) > 0.7


def test_a_cell_keeps_a_running_mean_of_the_errors_of_the_rays_that_hit_it() -> None:
    m = _map()
    m.values[:] = 0.0
    # two rays in image 0's cell (0, 1) with errors 0.2 and 0.4, one in image 2's cell (1, 0) with 0.6
    img, yy, xx = torch.tensor([0, 2, 0]), torch.tensor([3, 9, 7]), torch.tensor([9, 1, 15])
    m.update(img, yy, xx, torch.tensor([0.2, 0.6, 0.4]))
    assert torch.isclose(m.values[0, 0, 1], torch.tensor(0.5 * 0.3))  # half-way to the batch's mean, 0.3
    assert torch.isclose(m.values[2, 1, 0], torch.tensor(0.5 * 0.6))
    assert float(m.values.sum()) == float(m.values[0, 0, 1] + m.values[2, 1, 0])  # no other cell moved
    # the order of the rays does not matter
    m2 = _map()
    m2.values[:] = 0.0
    m2.update(img.flip(0), yy.flip(0), xx.flip(0), torch.tensor([0.4, 0.6, 0.2]))
    assert torch.equal(m.values, m2.values)


def test_a_perfect_map_still_draws_rays() -> None:
    m = _map(uniform=0.0)
    m.values[:] = 0.0
    img, _, _ = m.sample(100, torch.Generator().manual_seed(2))
    assert len(img) == 100 and not bool((img == 3).any())
