"""Image-plane centre heatmap targets: a 1 where the box centre projects, nothing behind cameras."""
import torch
from mmengine.structures import InstanceData

from ccu_av.models import ImageCenterHeatmapHead
from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes

from model_fixtures import camera_rig


def sample_with_box(x, y, label):
    ds = Det3DDataSample()
    gt = InstanceData()
    # bottom at z=-1.0, height 2 -> gravity centre at z=0, i.e. on the optical axis's height
    gt.bboxes_3d = LiDARInstance3DBoxes(torch.tensor([[x, y, -1.0, 4.0, 2.0, 2.0, 0.0, 0.0, 0.0]]), box_dim=9)
    gt.labels_3d = torch.tensor([label])
    ds.gt_instances_3d = gt
    return ds


def test_targets_peak_at_the_projected_centre():
    head = ImageCenterHeatmapHead(in_channels=8, num_classes=3, feature_stride=8)
    _, cam2img, lidar2img = camera_rig(2, (32, 64), focal=60.0)
    l2i = torch.tensor(lidar2img, dtype=torch.float32)[None]
    k = torch.tensor(cam2img, dtype=torch.float32)[None]
    # 10 m ahead, 0 m left: pixel (31.5, 15.5) -> feature (3.5, 1.5) -> rounded cell (col 4, row 2)
    target = head.get_targets([sample_with_box(10.0, 0.0, 2)], l2i, k, (4, 8))
    assert target.shape == (1, 2, 3, 4, 8)
    assert target[0, 0, 2, 2, 4] == 1.0
    assert target.eq(1).sum() == 1  # only camera 0 (camera 1 looks backwards), only class 2
    assert target[0, 1].abs().sum() == 0 and target[0, 0, :2].abs().sum() == 0
    assert 0 < target[0, 0, 2, 2, 3] < 1  # a Gaussian around it


def test_loss_falls_when_the_prediction_matches():
    head = ImageCenterHeatmapHead(in_channels=8, num_classes=3, feature_stride=8)
    _, cam2img, lidar2img = camera_rig(2, (32, 64), focal=60.0)
    args = ([sample_with_box(10.0, 0.0, 2)], torch.tensor(lidar2img, dtype=torch.float32)[None],
            torch.tensor(cam2img, dtype=torch.float32)[None])
    target = head.get_targets(*args, (4, 8))
    good = torch.logit(target.clamp(1e-4, 1 - 1e-4))
    bad = torch.zeros_like(good)
    assert head.loss(good, *args) < 0.1 * head.loss(bad, *args)
