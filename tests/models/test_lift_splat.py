"""Lift-splat geometry against hand-computed projections, and the fast pooling against a loop."""
import pytest
import torch

from ccu_av.models import LiftSplatViewTransform

from model_fixtures import camera_rig

IMAGE = (32, 64)
PCR = [-12.8, -12.8, -5.0, 12.8, 12.8, 3.0]
VOXEL = [1.6, 1.6, 8.0]


def make_vt(**kw):
    args = dict(in_channels=8, out_channels=4, mid_channels=8, image_size=IMAGE, feature_stride=8,
                dbound=[1.0, 17.0, 2.0], point_cloud_range=PCR, voxel_size=VOXEL)
    args.update(kw)
    return LiftSplatViewTransform(**args)


def splat_reference(vt, depth_prob, context, geometry):
    """The obvious version: visit every frustum point and add its feature to its cell."""
    B, N, D, H, W = depth_prob.shape
    C = context.shape[2]
    bev = torch.zeros(B, C, vt.grid.Y, vt.grid.X)
    for b in range(B):
        for n in range(N):
            for d in range(D):
                for h in range(H):
                    for w in range(W):
                        x, y, z = geometry[b, n, d, h, w]
                        ix = int(torch.floor((x - PCR[0]) / VOXEL[0]))
                        iy = int(torch.floor((y - PCR[1]) / VOXEL[1]))
                        if 0 <= ix < vt.grid.X and 0 <= iy < vt.grid.Y and PCR[2] <= z < PCR[5]:
                            bev[b, :, iy, ix] += depth_prob[b, n, d, h, w] * context[b, n, :, h, w]
    return bev


def test_frustum_point_lands_where_the_pinhole_model_says():
    vt = make_vt()
    lidar2cam, cam2img, lidar2img = camera_rig(2, IMAGE, focal=60.0)
    geom = vt.get_geometry(torch.tensor(lidar2img, dtype=torch.float32)[None])  # (1, 2, D, 4, 8, 3)
    assert geom.shape == (1, 2, 8, 4, 8, 3)
    # camera 0 looks along +x; feature cell (row 1, col 6) is pixel (u, v) = (6*8+3.5, 1*8+3.5)
    u, v, f = 51.5, 11.5, 60.0
    cx, cy = (IMAGE[1] - 1) / 2, (IMAGE[0] - 1) / 2
    d = 1.0 + 2.5 * 2.0  # centre of depth bin 2
    expected = torch.tensor([d, -(u - cx) * d / f, -(v - cy) * d / f])
    assert torch.allclose(geom[0, 0, 2, 1, 6], expected, atol=1e-4)
    # camera 1 looks along -x (yaw 180 deg): the same pixel mirrors through the origin in x and y
    mirrored = torch.tensor([-expected[0], -expected[1], expected[2]])
    assert torch.allclose(geom[0, 1, 2, 1, 6], mirrored, atol=1e-4)


def test_a_point_at_known_depth_fills_the_expected_bev_cell():
    vt = make_vt()
    _, _, lidar2img = camera_rig(2, IMAGE, focal=60.0)
    geom = vt.get_geometry(torch.tensor(lidar2img, dtype=torch.float32)[None])
    depth = torch.zeros(1, 2, 8, 4, 8)
    depth[0, 0, 4, 2, 4] = 1.0  # camera 0, depth bin 4 (10 m), feature row 2, column 4
    context = torch.zeros(1, 2, 4, 4, 8)
    context[0, 0, :, 2, 4] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    bev = vt.splat(depth, context, geom)
    assert bev.shape == (1, 4, 16, 16)
    # u = 4*8+3.5 = 35.5, cx = 31.5 -> y = -(35.5-31.5)*10/60 = -0.667 m; x = 10 m
    ix, iy = int((10.0 + 12.8) // 1.6), int((-0.6667 + 12.8) // 1.6)
    assert (ix, iy) == (14, 7)
    assert torch.equal(bev[0, :, iy, ix], torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert bev.abs().sum() == 10.0  # nothing anywhere else


def test_vectorised_splat_matches_the_loop():
    torch.manual_seed(0)
    vt = make_vt()
    _, _, lidar2img = camera_rig(2, IMAGE, focal=30.0)
    l2i = torch.tensor(lidar2img, dtype=torch.float32)[None].repeat(2, 1, 1, 1)
    l2i[1, :, :3, 3] += torch.tensor([3.0, -2.0, 0.5])  # second sample: a shifted rig
    geom = vt.get_geometry(l2i)
    depth = torch.rand(2, 2, 8, 4, 8).softmax(dim=2)
    context = torch.randn(2, 2, 4, 4, 8)
    fast = vt.splat(depth, context, geom)
    assert fast.abs().sum() > 0
    assert torch.allclose(fast, splat_reference(vt, depth, context, geom), atol=1e-5)


def test_forward_shapes_and_depth_distribution():
    vt = make_vt()
    _, _, lidar2img = camera_rig(2, IMAGE)
    out = vt(torch.randn(3, 2, 8, 4, 8), torch.tensor(lidar2img, dtype=torch.float32)[None].repeat(3, 1, 1, 1))
    assert out['bev'].shape == (3, 4, 16, 16)
    assert out['depth_logits'].shape == (3, 2, 8, 4, 8)


def test_forward_rejects_features_of_the_wrong_size():
    vt = make_vt()
    with pytest.raises(ValueError, match=r'expected \(4, 8\)'):
        vt(torch.randn(1, 2, 8, 5, 8), torch.eye(4).repeat(1, 2, 1, 1))


def test_depth_targets_take_the_nearest_known_pixel_per_cell():
    vt = make_vt()
    gt = torch.zeros(1, 1, *IMAGE)
    gt[0, 0, 0, 0] = 9.5    # cell (0, 0): 9.5 m and 4.2 m known -> 4.2 m -> bin 1
    gt[0, 0, 7, 7] = 4.2
    gt[0, 0, 8, 8] = 0.5    # cell (1, 1): closer than the first bin -> unknown
    gt[0, 0, 20, 60] = 30.0  # cell (2, 7): beyond the last bin -> unknown
    gt[0, 0, 31, 63] = 16.9  # cell (3, 7): last bin
    t = vt.depth_targets(gt)
    assert t.shape == (1, 1, 4, 8)
    assert t[0, 0, 0, 0] == 1 and t[0, 0, 1, 1] == -1 and t[0, 0, 2, 7] == -1 and t[0, 0, 3, 7] == 7
    assert (t >= 0).sum() == 2


def test_depth_loss_is_low_for_the_right_bin():
    vt = make_vt()
    gt = torch.zeros(1, 1, *IMAGE)
    gt[0, 0, 0:8, 0:8] = 4.2  # bin 1 in cell (0, 0)
    logits = torch.zeros(1, 1, 8, 4, 8)
    wrong = vt.depth_loss(logits, gt)
    logits[0, 0, 1, 0, 0] = 10.0
    assert vt.depth_loss(logits, gt) < 0.01 < wrong


def test_image_size_must_divide_by_the_stride():
    with pytest.raises(ValueError, match='divisible by feature_stride'):
        make_vt(image_size=(30, 64))
