"""MultiDelete (Cheng & Amiri, ECCV 2024, "MultiDelete: Multimodal Machine Unlearning"): the
forget samples' modalities are decoupled, the rest of what the model knows is kept.

Adapted to camera+radar detection through the modal interface (``docs/method.md``, "Baseline:
MultiDelete"): the fused BEV features of a forget sample are pushed towards what the original
makes of its camera paired with another scene's radar (a mismatched pair: the teacher's fusion of
the forget sample's camera features and a retain sample's radar features), while the student's
unimodal features (camera and radar of retain samples, radar of forget samples) and its retain
samples' fused features stay the teacher's.
"""
from typing import Dict, Optional

import torch
from torch import Tensor, nn

from ...models.interface import modal_feats
from .. import losses as L
from .base import OBJECTIVES, Batch, UnlearningObjective


def mismatched_fusion(teacher: nn.Module, forget_feats: Dict[str, Tensor],
                      retain_feats: Dict[str, Tensor]) -> Tensor:
    """The teacher's fused features of mismatched pairs: forget sample ``b``'s camera with the
    radar of retain sample ``b mod R`` (another scene), (B_f, C, Y, X)."""
    B_f, R = forget_feats['camera'].shape[0], retain_feats['radar'].shape[0]
    partner = torch.arange(B_f, device=retain_feats['radar'].device) % R
    with torch.no_grad():
        return teacher.fuse_modal_feats(forget_feats['camera'], retain_feats['radar'][partner])


@OBJECTIVES.register_module(name='MultiDelete')
class MultiDelete(UnlearningObjective):
    """``w_decouple * L_md + w_multimodal * L_mkr + w_unimodal * L_ukr``, each a relative squared
    error (:func:`ccu_av.unlearning.losses.feature_consistency`).

    Args:
        w_decouple: modality decoupling: forget samples' fused features vs
            :func:`mismatched_fusion`.
        w_multimodal: multimodal knowledge retention: retain samples' fused features vs the
            teacher's.
        w_unimodal: unimodal knowledge retention: camera and radar features of retain samples and
            radar features of forget samples vs the teacher's.
    """

    def __init__(self, w_decouple: float = 1.0, w_multimodal: float = 1.0, w_unimodal: float = 1.0):
        super().__init__()
        if min(w_decouple, w_multimodal, w_unimodal) < 0:
            raise ValueError(f'MultiDelete weights must be >= 0, got {w_decouple}, {w_multimodal}, '
                             f'{w_unimodal}')
        self.w_decouple, self.w_multimodal, self.w_unimodal = w_decouple, w_multimodal, w_unimodal

    def loss(self, student: nn.Module, teacher: nn.Module, retain: Batch, forget: Optional[Batch],
             iteration: int) -> Dict[str, Tensor]:
        """``loss_decouple``, ``loss_multimodal``, ``loss_unimodal``; every step is the same."""
        s_r, s_f = (modal_feats(student, b['inputs'], b['data_samples']) for b in (retain, forget))
        with torch.no_grad():
            t_r, t_f = (modal_feats(teacher, b['inputs'], b['data_samples']) for b in (retain, forget))
        unimodal = (L.feature_consistency(s_r['camera'], t_r['camera'])
                    + L.feature_consistency(s_r['radar'], t_r['radar'])
                    + L.feature_consistency(s_f['radar'], t_f['radar']))
        return dict(
            loss_decouple=self.w_decouple * L.feature_consistency(
                s_f['fused'], mismatched_fusion(teacher, t_f, t_r)),
            loss_multimodal=self.w_multimodal * L.feature_consistency(s_r['fused'], t_r['fused']),
            loss_unimodal=self.w_unimodal * unimodal)

