"""Camera images (erased footage left unread) and the camera matrices the detector reads."""
from typing import Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet3d.datasets.transforms import LoadMultiViewImageFromFiles
from mmdet3d.registry import TRANSFORMS


def pad_to_4x4(matrix) -> np.ndarray:
    """A 3x3 or 4x4 matrix as a 4x4 float64 array (identity padding)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    out = np.eye(4)
    out[:matrix.shape[0], :matrix.shape[1]] = matrix
    return out


@TRANSFORMS.register_module()
class ComposeCameraMatrices(BaseTransform):
    """Stack the per-view camera matrices and compose ``lidar2img``.

    Runs after mmdet3d's ``LoadMultiViewImageFromFiles``, which leaves ``cam2img`` (N 3x3 lists
    from the info file) and ``lidar2cam`` (N 4x4) as lists and no ``lidar2img`` in mmdet3d 1.4.
    Writes ``cam2img``, ``lidar2cam`` and ``lidar2img`` = cam2img @ lidar2cam, each (N, 4, 4) float64.
    """

    def transform(self, results: dict) -> dict:
        cam2img = np.stack([pad_to_4x4(m) for m in results['cam2img']])  # (N, 4, 4)
        lidar2cam = np.stack([pad_to_4x4(m) for m in results['lidar2cam']])  # (N, 4, 4)
        results.update(cam2img=cam2img, lidar2cam=lidar2cam, lidar2img=cam2img @ lidar2cam)
        return results


@TRANSFORMS.register_module()
class LoadCameraImages(LoadMultiViewImageFromFiles):
    """mmdet3d's multi-view image loading, except for samples whose camera footage is erased.

    A sample with ``results['camera_erased']`` (set by ``CamRadarNuScenesDataset`` for its
    ``camera_erased_tokens``) gets black images of ``erased_image_size`` and its camera matrices;
    its image files are never opened (after a takedown they may no longer exist). Everything
    else is as ``LoadMultiViewImageFromFiles``, whose keys this writes.

    Args:
        erased_image_size: (H, W) of the stand-in images; the size of the real ones.
        kwargs: as ``LoadMultiViewImageFromFiles``.
    """

    def __init__(self, erased_image_size: Tuple[int, int], **kwargs) -> None:
        super().__init__(**kwargs)
        if len(erased_image_size) != 2 or min(erased_image_size) < 1:
            raise ValueError(f'erased_image_size must be (H, W), got {erased_image_size}')
        self.erased_image_size = tuple(int(v) for v in erased_image_size)

    def transform(self, results: dict) -> dict:
        if not results.get('camera_erased', False):
            return super().transform(results)
        cams = list(results['images'].values())
        if len(cams) != self.num_views:
            raise ValueError(f'sample {results.get("token")}: {len(cams)} cameras, expected {self.num_views}')
        H, W = self.erased_image_size
        dtype = np.float32 if self.to_float32 else np.uint8
        results.update(
            filename=[cam['img_path'] for cam in cams],
            cam2img=[cam['cam2img'] for cam in cams],
            lidar2cam=[cam['lidar2cam'] for cam in cams],
            img=[np.zeros((H, W, 3), dtype=dtype) for _ in cams],
            img_shape=(H, W), ori_shape=(H, W), pad_shape=(H, W),
            img_norm_cfg=dict(mean=np.zeros(3, dtype=np.float32), std=np.ones(3, dtype=np.float32),
                              to_rgb=False),
            num_views=self.num_views, num_ref_frames=self.num_ref_frames)
        results['ori_cam2img'] = [np.array(m, copy=True) for m in results['cam2img']]
        if self.set_default_scale:
            results['scale_factor'] = 1.0
        return results


def bev_augmentation_matrix(results: dict) -> np.ndarray:
    """The 4x4 map from the loaded LIDAR_TOP frame to the augmented one, from mmdet3d's record.

    mmdet3d's ``GlobalRotScaleTrans`` and ``RandomFlip3D`` move points and boxes and append
    what they did to ``transformation_3d_flow`` ('R', 'S', 'T', 'HF', 'VF') with their
    parameters (``pcd_rotation`` as the row-vector matrix: p' = p @ pcd_rotation,
    ``pcd_scale_factor``, ``pcd_trans``). mmdet3d 1.4 composes no matrix from them for
    multi-view cameras (its BEVFusion project keeps one in its own transforms), so it is done here.
    """
    aug = np.eye(4)
    for step in results.get('transformation_3d_flow', []):
        m = np.eye(4)
        if step == 'R':
            m[:3, :3] = np.asarray(results['pcd_rotation'], dtype=np.float64).T
        elif step == 'S':
            m[:3, :3] *= float(results['pcd_scale_factor'])
        elif step == 'T':
            m[:3, 3] = np.asarray(results['pcd_trans'], dtype=np.float64)
        elif step == 'HF':
            m[1, 1] = -1.0
        elif step == 'VF':
            m[0, 0] = -1.0
        else:
            raise ValueError(f'bev_augmentation_matrix: unknown step {step!r} in transformation_3d_flow '
                             "(expected 'R', 'S', 'T', 'HF' or 'VF')")
        aug = m @ aug
    return aug


@TRANSFORMS.register_module()
class AugmentCameraMatrices(BaseTransform):
    """Make the camera matrices follow a BEV augmentation of points and boxes.

    Runs after ``ComposeCameraMatrices`` (and after ``LoadLidarDepthTargets``, whose per-pixel
    depths do not change: the camera does not move relative to the scene). With A the augmentation
    (``bev_augmentation_matrix``), a point p' = A p of the augmented frame projects where p did:
    ``lidar2cam`` and ``lidar2img`` become ``... @ inv(A)``. Writes ``bev_aug_matrix`` (4, 4).
    """

    def transform(self, results: dict) -> dict:
        aug = bev_augmentation_matrix(results)
        inv = np.linalg.inv(aug)
        results.update(lidar2cam=results['lidar2cam'] @ inv, lidar2img=results['lidar2img'] @ inv,
                       bev_aug_matrix=aug)
        return results
