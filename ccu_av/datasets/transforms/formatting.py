"""Packing of camera+radar inputs: mmdet3d's Pack3DDetInputs plus the camera depth targets."""
import inspect

import numpy as np
import torch
from mmdet3d.datasets.transforms import Pack3DDetInputs
from mmdet3d.registry import TRANSFORMS

# Sample identity, kept on the data sample so that evaluation and unlearning can group by it.
SAMPLE_META_KEYS = ('token', 'scene_token', 'scene_name', 'location', 'timestamp', 'camera_erased')
MMDET3D_META_KEYS = inspect.signature(Pack3DDetInputs.__init__).parameters['meta_keys'].default


@TRANSFORMS.register_module()
class PackCamRadarInputs(Pack3DDetInputs):
    """Pack images and radar points as mmdet3d does, and ``gt_depth`` onto the data sample.

    Reads what ``Pack3DDetInputs`` reads, plus ``gt_depth`` (N, H, W) when present. Writes
    ``inputs['img']`` (N, 3, H, W), ``inputs['points']`` (P, C) and ``data_samples`` with
    ``gt_depth`` (N, H, W) float32 tensor and the sample identity in its metainfo.
    """

    def __init__(self, keys: tuple, meta_keys: tuple = MMDET3D_META_KEYS + SAMPLE_META_KEYS) -> None:
        super().__init__(keys=keys, meta_keys=meta_keys)

    def pack_single_results(self, results: dict) -> dict:
        packed = super().pack_single_results(results)
        if 'gt_depth' in results:
            packed['data_samples'].gt_depth = torch.from_numpy(
                np.ascontiguousarray(results['gt_depth'], dtype=np.float32))
        return packed
