"""Camera + radar BEV fusion detector that trains on CPU.

    imgs (B, N, 3, H, W) -> mmdet ResNet + FPN -> LiftSplatViewTransform -> camera BEV ┐
    radar points [(P, C_r)] x B -> RadarPillarEncoder -------------------> radar BEV  ┼-> ConvFuser
    -> mmdet3d SECOND + SECONDFPN -> fused BEV -> mmdet3d CenterHead -> boxes

Auxiliary camera losses: depth bins from ``gt_depth`` and an image-plane centre heatmap.
The detector offers the modal-features interface of :mod:`ccu_av.models.interface`.
"""
from typing import Dict, List, Optional, Tuple

import os.path as osp

import numpy as np
import torch
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet3d.models.detectors.base import Base3DDetector
from mmdet3d.registry import MODELS
from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes

from ccu_av.utils.checkpoint import load_checkpoint_file

from ..interface import ModalityMixin

HEATMAP_PRIOR_BIAS = -2.19  # log(0.1 / 0.9): a 10% foreground prior, as CenterNet


@MODELS.register_module()
class CamRadarBEVFusion(ModalityMixin, Base3DDetector):
    """Camera + radar BEV fusion detector.

    Args:
        img_backbone, img_neck: mmdet image backbone and neck configs; the neck's first output
            level feeds the view transform.
        view_transform: :class:`LiftSplatViewTransform` config.
        radar_encoder: :class:`RadarPillarEncoder` config.
        fuser: :class:`ConvFuser` config.
        bev_backbone, bev_neck: mmdet3d BEV backbone and neck (e.g. ``SECOND``, ``SECONDFPN``).
        bbox_head: mmdet3d ``CenterHead`` config; ``train_cfg``/``test_cfg`` are passed to it.
        img_aux_head: optional :class:`ImageCenterHeatmapHead` config.
        img_pretrained: optional torchvision-format image backbone weights (e.g. ImageNet
            ResNet-50), loaded by ``init_weights`` when the file exists; without it the image
            backbone starts from scratch (a warning says so).
        num_cams: cameras per sample.
        loss_depth_weight: weight of the depth cross-entropy (0 switches it off).
        radar_only_prob, camera_only_prob: modality dropout in training: the share of samples
            whose camera (resp. radar) BEV is zeroed.
    """

    def __init__(self,
                 img_backbone: dict,
                 img_neck: dict,
                 view_transform: dict,
                 radar_encoder: dict,
                 fuser: dict,
                 bev_backbone: dict,
                 bev_neck: dict,
                 bbox_head: dict,
                 img_aux_head: Optional[dict] = None,
                 img_pretrained: Optional[str] = None,
                 num_cams: int = 6,
                 loss_depth_weight: float = 1.0,
                 radar_only_prob: float = 0.25,
                 camera_only_prob: float = 0.30,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if radar_only_prob < 0 or camera_only_prob < 0 or radar_only_prob + camera_only_prob > 1:
            raise ValueError(f'radar_only_prob {radar_only_prob} and camera_only_prob '
                             f'{camera_only_prob} must be >= 0 and sum to at most 1')
        self.img_backbone = MODELS.build(img_backbone)
        self.img_neck = MODELS.build(img_neck)
        self.view_transform = MODELS.build(view_transform)
        self.radar_encoder = MODELS.build(radar_encoder)
        self.fuser = MODELS.build(fuser)
        self.bev_backbone = MODELS.build(bev_backbone)
        self.bev_neck = MODELS.build(bev_neck)
        self.bbox_head = MODELS.build(dict(bbox_head, train_cfg=train_cfg, test_cfg=test_cfg))
        self.img_aux_head = MODELS.build(img_aux_head) if img_aux_head else None
        self.img_pretrained = img_pretrained
        self.num_cams = num_cams
        self.loss_depth_weight = loss_depth_weight
        self.radar_only_prob = radar_only_prob
        self.camera_only_prob = camera_only_prob
        self._set_heatmap_prior()

    def _set_heatmap_prior(self) -> None:
        """CenterHead leaves its heatmap bias at the conv default; start at the usual prior."""
        for task_head in self.bbox_head.task_heads:
            task_head.heatmap[-1].bias.data.fill_(HEATMAP_PRIOR_BIAS)

    def init_weights(self) -> None:
        super().init_weights()
        self._set_heatmap_prior()
        if self.img_pretrained:
            self._load_img_pretrained(self.img_pretrained)

    def _load_img_pretrained(self, path: str) -> None:
        """Image backbone weights from a torchvision-format file (its ``fc`` is not used)."""
        logger = MMLogger.get_current_instance()
        if not osp.isfile(path):
            logger.warning(f'img_pretrained {path} does not exist: the image backbone starts from scratch')
            return
        state = load_checkpoint_file(path)
        state = state.get('state_dict', state)
        missing, unexpected = self.img_backbone.load_state_dict(state, strict=False)
        if missing:
            raise ValueError(f'img_pretrained {path} lacks {len(missing)} image backbone weights, '
                             f'e.g. {missing[:5]}: expected a torchvision-format ResNet of the same depth')
        logger.info(f'image backbone loaded from {path} (unused: {sorted(unexpected)[:5]})')

    # ----------------------------------------------------------------------------- inputs
    def _check_images(self, imgs: Tensor) -> None:
        """Raise if the image batch disagrees with the configured cameras or image size."""
        expected = self.view_transform.image_size
        if imgs.dim() != 5 or imgs.shape[1] != self.num_cams or tuple(imgs.shape[-2:]) != expected:
            raise ValueError(
                f"inputs['imgs'] has shape {tuple(imgs.shape)}, expected (B, num_cams={self.num_cams}, "
                f'3, {expected[0]}, {expected[1]}) as configured (num_cams, view_transform.image_size)')

    def _stack_meta(self, batch_data_samples: List[Det3DDataSample], key: str) -> Tensor:
        """(B, N, 4, 4) float tensor of a per-camera matrix from the samples' metainfo."""
        mats = []
        for ds in batch_data_samples:
            if key not in ds.metainfo:
                raise KeyError(f'data sample {ds.metainfo.get("sample_idx", "?")} has no {key!r} '
                               f'in its metainfo (needed by the camera branch)')
            m = torch.as_tensor(np.asarray(ds.metainfo[key]), dtype=torch.float32)
            if m.dim() != 3 or m.shape[0] != self.num_cams or m.shape[-1] not in (3, 4):
                raise ValueError(f'metainfo {key!r} has shape {tuple(m.shape)}, expected '
                                 f'(num_cams={self.num_cams}, 3 or 4, 3 or 4)')
            pad = torch.eye(4).repeat(self.num_cams, 1, 1)
            pad[:, :m.shape[1], :m.shape[2]] = m
            mats.append(pad)
        return torch.stack(mats)

    def _radar_points(self, batch_inputs: dict) -> List[Tensor]:
        points = batch_inputs.get('points')
        if points is None:
            raise KeyError("batch_inputs has no 'points' (radar): the radar branch needs them")
        return [p.tensor if hasattr(p, 'tensor') else p for p in points]

    # ---------------------------------------------------------------------------- branches
    def _image_feats(self, imgs: Tensor) -> Tensor:
        """(B, N, C', H', W') image backbone and neck features of (B, N, 3, H, W) images."""
        self._check_images(imgs)
        B, N = imgs.shape[:2]
        feats = self.img_neck(self.img_backbone(imgs.flatten(0, 1)))[0]  # (B*N, C', H', W')
        return feats.view(B, N, *feats.shape[1:])

    def extract_camera(self, imgs: Tensor, lidar2img: Tensor) -> Dict[str, Tensor]:
        """Camera branch: ``dict(bev, depth_logits, img_feats)``."""
        img_feats = self._image_feats(imgs)
        out = self.view_transform(img_feats, lidar2img.to(imgs.device))
        out['img_feats'] = img_feats
        return out

    def _zeros_bev(self, like: Tensor, channels: int, B: int) -> Tensor:
        return like.new_zeros(B, channels, *self.view_transform.grid.shape)

    def _extract(self, batch_inputs: dict, batch_data_samples: List[Det3DDataSample],
                 dropout: bool) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """Modal BEV features (see the interface) and the camera branch's auxiliary outputs.

        Samples whose camera footage is erased (metainfo ``camera_erased``, the visual retrain's
        forget samples) never go through the camera branch, not even its batch statistics: their
        camera outputs are zeros and their radar is always used.
        """
        B = len(batch_data_samples)
        use_camera, use_radar = self.modality in ('fusion', 'camera'), self.modality in ('fusion', 'radar')
        erased = [bool(ds.metainfo.get('camera_erased', False)) for ds in batch_data_samples]
        seen = [i for i, e in enumerate(erased) if not e]
        cam_out = {}
        if use_camera:
            if 'imgs' not in batch_inputs:
                raise KeyError(f"batch_inputs has no 'imgs': the camera branch needs them in "
                               f'{self.modality!r} mode')
            imgs, lidar2img = batch_inputs['imgs'], self._stack_meta(batch_data_samples, 'lidar2img')
            if len(seen) == B:
                cam_out = self.extract_camera(imgs, lidar2img)
            elif seen:
                cam_out = _scatter_rows(self.extract_camera(imgs[seen], lidar2img[seen]), seen, B)
        radar = self.radar_encoder(self._radar_points(batch_inputs)) if use_radar else None
        # a switched-off (or erased) modality: zeros of its usual shape
        ref = cam_out['bev'] if cam_out else radar if radar is not None else batch_inputs['imgs']
        camera = cam_out['bev'] if cam_out else self._zeros_bev(ref, self.view_transform.out_channels, B)
        if radar is None:
            radar = self._zeros_bev(ref, self.radar_encoder.out_channels, B)
        cam_in, radar_in = camera, radar
        if dropout and self.modality == 'fusion':
            keep_cam, keep_radar = self._modality_dropout_masks(B, ref.device)
            cam_in, radar_in = camera * keep_cam, radar * keep_radar
            if len(seen) < B:  # an erased sample keeps its radar whatever the dropout drew
                keep = torch.tensor(erased, device=ref.device).view(B, 1, 1, 1)
                radar_in = torch.where(keep, radar, radar_in)
        return dict(camera=camera, radar=radar, fused=self.fuse_modal_feats(cam_in, radar_in)), cam_out

    def _modality_dropout_masks(self, B: int, device) -> Tuple[Tensor, Tensor]:
        """(B, 1, 1, 1) keep-masks: a radar-only share drops the camera, a camera-only share radar."""
        u = torch.rand(B, device=device)
        radar_only = u < self.radar_only_prob
        camera_only = (u >= self.radar_only_prob) & (u < self.radar_only_prob + self.camera_only_prob)
        return ((~radar_only).float().view(B, 1, 1, 1), (~camera_only).float().view(B, 1, 1, 1))

    # --------------------------------------------------------------- the modal interface
    def extract_modal_feats(self, batch_inputs: dict,
                            batch_data_samples: List[Det3DDataSample]) -> Dict[str, Tensor]:
        """``dict(camera=(B, C_cam, Y, X), radar=(B, C_rad, Y, X), fused=(B, C, Y, X))``."""
        return self._extract(batch_inputs, batch_data_samples, dropout=False)[0]

    def extract_image_feats(self, batch_inputs: dict,
                            batch_data_samples: List[Det3DDataSample]) -> Tensor:
        """(B, N, C', H', W'): the image backbone and neck's features of every camera image."""
        return self._image_feats(batch_inputs['imgs'])

    def fuse_modal_feats(self, camera_feats: Tensor, radar_feats: Tensor) -> Tensor:
        """Fuser, BEV backbone and neck on camera and radar BEV features: (B, C, Y, X)."""
        return self.bev_neck(self.bev_backbone(self.fuser([camera_feats, radar_feats])))[0]

    def head_forward(self, fused_feats: Tensor) -> Dict[str, Tensor]:
        """CenterHead's dense outputs, its tasks concatenated in their order: ``heatmap``
        (B, K, Y, X) class logits (K the classes of all tasks; mmdet3d's CenterHead trains the
        ``l``-th class of its tasks' concatenated ``class_names`` on label ``l``, so channel
        ``k`` is label ``k``'s), ``regression`` (B, T * R, Y, X)
        each task's ``common_heads`` maps (reg, height, dim, rot, vel: R = 10)."""
        tasks = [levels[0] for levels in self.bbox_head([fused_feats])]  # one dict per task
        heatmap = torch.cat([task['heatmap'] for task in tasks], 1)
        regression = torch.cat([value for task in tasks for key, value in task.items()
                                if key != 'heatmap'], 1)
        return dict(heatmap=heatmap, regression=regression)

    def head_loss(self, fused_feats: Tensor,
                  batch_data_samples: List[Det3DDataSample]) -> Dict[str, Tensor]:
        """CenterHead losses (heatmap and box regression per task) on fused features."""
        return self.bbox_head.loss([fused_feats], batch_data_samples)

    def head_predict(self, fused_feats: Tensor,
                     batch_data_samples: List[Det3DDataSample]) -> List[InstanceData]:
        """CenterHead boxes (LiDAR frame, with velocity), scores and labels per sample."""
        for ds in batch_data_samples:
            if 'box_type_3d' not in ds.metainfo:
                ds.set_metainfo(dict(box_type_3d=LiDARInstance3DBoxes))
        return self.bbox_head.predict([fused_feats], batch_data_samples)

    # ------------------------------------------------------------------- mmdet3d's entries
    def loss(self, batch_inputs: dict, batch_data_samples: List[Det3DDataSample]) -> Dict[str, Tensor]:
        """Head losses on fused features (with modality dropout) plus the camera auxiliaries."""
        feats, cam_out = self._extract(batch_inputs, batch_data_samples, dropout=self.training)
        losses = self.head_loss(feats['fused'], batch_data_samples)
        if cam_out and self.loss_depth_weight > 0:
            gt_depth = torch.stack([ds.gt_depth for ds in batch_data_samples]).to(feats['fused'].device)
            losses['loss_depth'] = self.loss_depth_weight * self.view_transform.depth_loss(
                cam_out['depth_logits'], gt_depth)
        if cam_out and self.img_aux_head is not None:
            # erased footage supervises nothing (its depth targets are already all unknown);
            # cam_out exists only when some sample's footage is not erased
            seen = [i for i, ds in enumerate(batch_data_samples)
                    if not ds.metainfo.get('camera_erased', False)]
            losses.update(self.image_aux_loss(cam_out['img_feats'][seen], [batch_data_samples[i] for i in seen]))
        return losses

    def image_aux_loss(self, image_feats: Tensor,
                       batch_data_samples: List[Det3DDataSample]) -> Dict[str, Tensor]:
        """The image-plane auxiliary head's loss (``loss_img_heatmap``) on (B, N, C', H', W')
        image features (``extract_image_feats``'s) against the samples' ``gt_instances_3d``
        projected into each camera; empty without an auxiliary head."""
        if self.img_aux_head is None:
            return {}
        logits = self.img_aux_head(image_feats)  # (B, N, num_classes, H, W)
        return dict(loss_img_heatmap=self.img_aux_head.loss(
            logits, batch_data_samples, self._stack_meta(batch_data_samples, 'lidar2img').to(logits.device),
            self._stack_meta(batch_data_samples, 'cam2img').to(logits.device)))

    def predict(self, batch_inputs: dict,
                batch_data_samples: List[Det3DDataSample]) -> List[Det3DDataSample]:
        """Boxes in the current ``modality``, written to ``pred_instances_3d``; the mode goes
        to each sample's metainfo (``modality``) for the evaluation."""
        feats = self.extract_modal_feats(batch_inputs, batch_data_samples)
        results = self.head_predict(feats['fused'], batch_data_samples)
        for ds in batch_data_samples:
            ds.set_metainfo(dict(modality=self.modality))
        return self.add_pred_to_datasample(batch_data_samples, results)

    def _forward(self, batch_inputs: dict, batch_data_samples: List[Det3DDataSample]):
        """Raw CenterHead outputs (per task, per head) on the fused features."""
        feats = self.extract_modal_feats(batch_inputs, batch_data_samples)
        return self.bbox_head([feats['fused']])

    def extract_feat(self, batch_inputs: dict, batch_data_samples: List[Det3DDataSample]) -> Tensor:
        """Fused BEV features (B, C, Y, X)."""
        return self.extract_modal_feats(batch_inputs, batch_data_samples)['fused']


def _scatter_rows(out: Dict[str, Tensor], rows: List[int], B: int) -> Dict[str, Tensor]:
    """Batch tensors computed on ``rows`` of a batch of ``B``, as (B, ...) with zeros elsewhere."""
    full = {}
    for key, value in out.items():
        expanded = value.new_zeros((B, *value.shape[1:]))
        expanded[rows] = value
        full[key] = expanded
    return full
