"""Camera matrices as the detector reads them: (N, 4, 4) cam2img, lidar2cam and lidar2img."""
import numpy as np
from mmcv.transforms import BaseTransform
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
