"""mmdet3d's ``CenterHead`` with its rotated NMS run per class instead of per task.

``CenterHead.get_task_detections`` suppresses overlapping boxes across every class of a task, so
where the heatmaps of two classes of one task peak on the same object (a truck that looks a
little like a bus) only the stronger hypothesis survives, and the right class loses its
detection whenever it scores second. nuScenes' mAP is computed per class, and many detectors
evaluated on it keep one hypothesis per class (per-class NMS, or CenterPoint's nuScenes config
splitting car, truck and bus into separate tasks at the cost of more heads).

Here the head is unchanged (same parameters, same training, same checkpoints); only prediction
differs: each class's boxes go through mmdet3d's own ``get_task_detections`` (score threshold,
rotated NMS, centre range) separately, and the task keeps the ``post_max_size`` best of the
union. Written here because mmdet3d offers per-class NMS only for anchor heads
(``box3d_multiclass_nms``, which has no ``pre_max_size`` and no centre-range filter).
"""
from typing import List

import torch
from torch import Tensor

from mmdet3d.models.dense_heads import CenterHead
from mmdet3d.registry import MODELS


@MODELS.register_module()
class ClassNMSCenterHead(CenterHead):
    """``CenterHead`` whose rotated NMS (``test_cfg.nms_type='rotate'``) runs per class.

    Takes the arguments of mmdet3d's ``CenterHead``; ``test_cfg.post_max_size`` caps the boxes of
    a task after the per-class NMS, as it caps them after the per-task NMS upstream. Circle NMS
    (``nms_type='circle'``) is left as mmdet3d runs it.
    """

    def get_task_detections(self, num_class_with_bg: int, batch_cls_preds: List[Tensor],
                            batch_reg_preds: List[Tensor], batch_cls_labels: List[Tensor],
                            img_metas: List[dict]) -> List[dict]:
        parent = super().get_task_detections
        if num_class_with_bg == 1:  # one class: per-task NMS is per-class NMS
            return parent(num_class_with_bg, batch_cls_preds, batch_reg_preds, batch_cls_labels,
                          img_metas)
        results = []
        for scores, boxes, labels, meta in zip(batch_cls_preds, batch_reg_preds,
                                               batch_cls_labels, img_metas):
            per_class = []
            for c in range(num_class_with_bg):
                of_c = labels == c
                per_class += parent(num_class_with_bg, [scores[of_c]], [boxes[of_c]],
                                    [labels[of_c]], [meta])
            merged = {key: torch.cat([r[key] for r in per_class]) for key in per_class[0]}
            order = torch.sort(merged['scores'], descending=True, stable=True).indices
            order = order[:self.test_cfg['post_max_size']]
            results.append({key: value[order] for key, value in merged.items()})
        return results
