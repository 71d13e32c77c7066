"""Small synthetic cameras, radar clouds and boxes for the model tests (no dataset needed).

Imported by name from tests (``from model_fixtures import make_batch``); ``conftest.py`` wraps
them as fixtures.
"""
import copy
import math

import numpy as np
import torch
from mmengine.config import Config

import ccu_av.models  # noqa: F401  (registers the modules)
from mmengine.registry import init_default_scope
from mmdet3d.registry import MODELS
from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes
from mmengine.structures import InstanceData

init_default_scope('mmdet3d')  # as default_scope='mmdet3d' in the configs
BASE_MODEL_CFG = 'configs/_base_/models/camradar_bevfusion.py'


def camera_rig(num_cams, image_size, focal=60.0):
    """Cameras at the LIDAR_TOP origin, evenly spaced in yaw (first one looks along +x).

    Returns ``(lidar2cam, cam2img, lidar2img)`` as (N, 4, 4) numpy arrays.
    """
    H, W = image_size
    # lidar (x fwd, y left, z up) -> camera (x right, y down, z forward) for a camera facing +x
    front = np.array([[0, -1, 0], [0, 0, -1], [1, 0, 0]], dtype=np.float64)
    lidar2cam, cam2img = [], []
    for n in range(num_cams):
        yaw = 2 * math.pi * n / num_cams
        c, s = math.cos(yaw), math.sin(yaw)
        rz_inv = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])  # undo the camera's yaw
        m = np.eye(4)
        m[:3, :3] = front @ rz_inv
        lidar2cam.append(m)
        k = np.eye(4)
        k[0, 0] = k[1, 1] = focal
        k[0, 2], k[1, 2] = (W - 1) / 2, (H - 1) / 2
        cam2img.append(k)
    lidar2cam, cam2img = np.stack(lidar2cam), np.stack(cam2img)
    return lidar2cam, cam2img, cam2img @ lidar2cam


def tiny_model_cfg(num_cams=2, image_size=(32, 64), bev_size=16, radar_only_prob=0.25,
                   camera_only_prob=0.30):
    """The real base config shrunk to a few thousand parameters' worth of compute."""
    cfg = Config.fromfile(BASE_MODEL_CFG)
    m = copy.deepcopy(cfg.model.to_dict())
    pcr = [-12.8, -12.8, -5.0, 12.8, 12.8, 3.0]
    voxel = [25.6 / bev_size, 25.6 / bev_size, 8.0]
    m['num_cams'] = num_cams
    m['radar_only_prob'], m['camera_only_prob'] = radar_only_prob, camera_only_prob
    m['img_backbone'].update(base_channels=8)
    m['img_neck'].update(in_channels=[16, 32], out_channels=16)
    m['view_transform'].update(in_channels=16, out_channels=16, mid_channels=16, image_size=image_size,
                               dbound=[1.0, 17.0, 2.0], point_cloud_range=pcr, voxel_size=voxel)
    m['img_aux_head'].update(in_channels=16, feat_channels=16)
    m['radar_encoder'].update(point_cloud_range=pcr, voxel_size=voxel, mlp_channels=[8],
                              out_channels=8)
    m['fuser'].update(in_channels=[16, 8], out_channels=16)
    m['bev_backbone'].update(in_channels=16, out_channels=[16, 32])
    m['bev_neck'].update(in_channels=[16, 32], out_channels=[16, 16])
    m['bbox_head'].update(in_channels=32, share_conv_channel=16)
    m['bbox_head']['separate_head'].update(head_conv=16)
    m['bbox_head']['bbox_coder'].update(pc_range=pcr[:2], voxel_size=voxel[:2])
    m['train_cfg'].update(grid_size=[bev_size, bev_size, 1], voxel_size=voxel, point_cloud_range=pcr)
    m['test_cfg'].update(voxel_size=voxel[:2], pc_range=pcr[:2])
    return m


def tiny_detector(seed=0, **cfg_kwargs):
    """A :class:`CamRadarBEVFusion` of :func:`tiny_model_cfg`, initialised with ``seed``."""
    torch.manual_seed(seed)
    model = MODELS.build(tiny_model_cfg(**cfg_kwargs))
    model.init_weights()
    return model


def make_batch(num_samples=2, num_cams=2, image_size=(32, 64), num_boxes=3, num_radar=20, seed=0):
    """``(batch_inputs, data_samples)`` as Det3DDataPreprocessor would hand them to the model."""
    g = torch.Generator().manual_seed(seed)
    H, W = image_size
    lidar2cam, cam2img, lidar2img = camera_rig(num_cams, image_size)
    imgs = torch.rand(num_samples, num_cams, 3, H, W, generator=g)
    points, samples = [], []
    for b in range(num_samples):
        xy = (torch.rand(num_boxes, 2, generator=g) - 0.5) * 16
        boxes = torch.cat([xy, torch.full((num_boxes, 1), -1.8),  # x, y, z_bottom
                           torch.tensor([[4.0, 1.8, 1.6]]).repeat(num_boxes, 1),  # l, w, h
                           torch.rand(num_boxes, 1, generator=g) * 3,  # yaw
                           torch.randn(num_boxes, 2, generator=g)], dim=1)  # vx, vy
        ds = Det3DDataSample()
        ds.set_metainfo(dict(sample_idx=b, lidar2cam=lidar2cam, cam2img=cam2img, lidar2img=lidar2img,
                             img_shape=[image_size] * num_cams, box_type_3d=LiDARInstance3DBoxes))
        gt = InstanceData()
        gt.bboxes_3d = LiDARInstance3DBoxes(boxes, box_dim=9)
        gt.labels_3d = torch.randint(0, 10, (num_boxes,), generator=g)
        ds.gt_instances_3d = gt
        ds.gt_depth = torch.where(torch.rand(num_cams, H, W, generator=g) < 0.3,
                                  1 + 15 * torch.rand(num_cams, H, W, generator=g),
                                  torch.zeros(num_cams, H, W))
        samples.append(ds)
        pts = torch.cat([(torch.rand(num_radar, 2, generator=g) - 0.5) * 24,
                         torch.zeros(num_radar, 1), torch.randn(num_radar, 4, generator=g)], dim=1)
        points.append(pts)
    return dict(imgs=imgs, points=points), samples
