"""Radar pillar encoder: the scatter max-pool against a per-cell loop, and its input checks."""
import pytest
import torch

from ccu_av.models import RadarPillarEncoder

PCR = [-12.8, -12.8, -5.0, 12.8, 12.8, 3.0]
VOXEL = [1.6, 1.6, 8.0]


def make_encoder():
    torch.manual_seed(0)
    enc = RadarPillarEncoder(point_cloud_range=PCR, voxel_size=VOXEL, mlp_channels=[8], out_channels=4)
    return enc.eval()


def pooled_reference(enc, points):
    """Per point: its features, MLP; per cell: the max over its points (zeros when empty)."""
    names = enc.feature_names
    cols = [names.index(f) for f in ('x', 'y', 'rcs', 'vx_comp', 'vy_comp', 'time_lag')]
    bev = torch.zeros(len(points), enc.out_channels, 16, 16)
    filled = torch.zeros(len(points), 16, 16, dtype=torch.bool)
    for b, pts in enumerate(points):
        for p in pts:
            x, y, z = p[0].item(), p[1].item(), p[2].item()
            ix, iy = int((x - PCR[0]) // 1.6), int((y - PCR[1]) // 1.6)
            if not (0 <= ix < 16 and 0 <= iy < 16 and -5 <= z < 3):
                continue
            offset = torch.tensor([x - (PCR[0] + (ix + 0.5) * 1.6), y - (PCR[1] + (iy + 0.5) * 1.6)])
            f = enc.point_mlp(torch.cat([p[cols], offset])[None])[0]
            bev[b, :, iy, ix] = f if not filled[b, iy, ix] else torch.maximum(bev[b, :, iy, ix], f)
            filled[b, iy, ix] = True
    return bev


def test_scatter_max_pool_matches_the_loop():
    enc = make_encoder()
    g = torch.Generator().manual_seed(1)
    points = [torch.cat([(torch.rand(40, 2, generator=g) - 0.5) * 30, torch.zeros(40, 1),
                         torch.randn(40, 4, generator=g)], dim=1) for _ in range(2)]
    points[1][:5, :2] = torch.tensor([3.0, 3.0])  # five points in one cell
    with torch.no_grad():
        pooled = {}
        enc.bev_conv.register_forward_hook(lambda m, i, o: pooled.setdefault('in', i[0]))
        out = enc(points)
    assert out.shape == (2, 4, 16, 16)
    assert torch.allclose(pooled['in'], pooled_reference(enc, points), atol=1e-5)


def test_points_outside_the_grid_change_nothing():
    enc = make_encoder()
    pts = torch.tensor([[1.0, 2.0, 0.0, 5.0, 1.0, 0.0, 0.0]])
    far = torch.tensor([[50.0, 2.0, 0.0, 5.0, 1.0, 0.0, 0.0], [1.0, 2.0, 9.0, 5.0, 1.0, 0.0, 0.0]])
    with torch.no_grad():
        assert torch.equal(enc([pts]), enc([torch.cat([pts, far])]))


def test_empty_clouds_give_an_empty_grid_after_the_conv():
    enc = make_encoder()
    with torch.no_grad():
        out = enc([torch.zeros(0, 7), torch.zeros(0, 7)])
    assert out.shape == (2, 4, 16, 16)
    assert torch.allclose(out, out[:, :, :1, :1].expand_as(out))  # the same value everywhere


def test_wrong_radar_fields_are_refused():
    enc = make_encoder()
    with pytest.raises(ValueError, match=r'sample 0 have shape \(3, 5\), expected \(P, 7\)'):
        enc([torch.zeros(3, 5)])
    with pytest.raises(ValueError, match='not among the radar feature_names'):
        RadarPillarEncoder(PCR, VOXEL, used_features=['x', 'y', 'doppler'])
