"""Cross-modal Contrastive Unlearning (CCU) for camera+radar BEV detectors.

Combines the terms of :mod:`.losses` on one retain batch and one forget batch, touching the
detector only through the modal-features interface (:mod:`ccu_av.models.interface`). The
equations and the reasons behind each choice are in ``docs/method.md``.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..models.interface import use_modality
from . import losses as L
from .embeddings import BoxPooler, gt_objects

Batch = dict  # dict(inputs=..., data_samples=[...]) as the data preprocessor returns it


def sum_head_losses(head_losses: Dict[str, object]) -> Tensor:
    """Sum of the entries whose name contains ``'loss'`` (tensors or lists of them), as
    mmengine's ``BaseModel.parse_losses`` counts them."""
    total = 0
    for name, value in head_losses.items():
        if 'loss' in name:
            total = total + (sum(v.mean() for v in value) if isinstance(value, (list, tuple))
                             else value.mean())
    return total


class CCU:
    """The CCU objective: detection on retain + (a) unlearning + (b) retention + (c) separation
    (``docs/method.md``).

    A weight of 0 switches its term off and skips the computation it alone needs.

    Args:
        point_cloud_range: ``[x0, y0, z0, x1, y1, z1]`` of the detector's BEV grid (metres).
        temperature: of the contrastive terms (a) and (c).
        w_detection: head loss on retain samples (fusion mode).
        w_unlearn: (a) inverse InfoNCE on forget objects' camera embeddings.
        w_spread: (a) norm and spread preservation of those embeddings (no collapse).
        w_radar_embedding: (b) forget objects' radar embeddings vs the teacher's.
        w_radar_bev: (b) radar-only fused BEV (what the head reads) vs the teacher's, on forget.
        w_radar_detection: (b) head loss in radar-only mode on forget samples.
        w_retain_structure: (c) teacher-anchored supervised contrastive on retain objects.
        w_separation: (c) forget objects may not move closer to retain objects.
        w_forget_fusion: (b) fusion-mode fused BEV on forget vs the teacher's radar-only one:
            the fused features lean on radar where the camera knowledge was removed.
    """

    def __init__(self,
                 point_cloud_range: Sequence[float],
                 temperature: float = 0.1,
                 w_detection: float = 1.0,
                 w_unlearn: float = 1.0,
                 w_spread: float = 1.0,
                 w_radar_embedding: float = 1.0,
                 w_radar_bev: float = 1.0,
                 w_radar_detection: float = 1.0,
                 w_retain_structure: float = 1.0,
                 w_separation: float = 1.0,
                 w_forget_fusion: float = 0.1):
        if temperature <= 0:
            raise ValueError(f'temperature must be positive, got {temperature}')
        self.pooler = BoxPooler(point_cloud_range)
        self.temperature = temperature
        self.w = dict(detection=w_detection, unlearn=w_unlearn, spread=w_spread,
                      radar_embedding=w_radar_embedding, radar_bev=w_radar_bev,
                      radar_detection=w_radar_detection, retain_structure=w_retain_structure,
                      separation=w_separation, forget_fusion=w_forget_fusion)
        negative = {k: v for k, v in self.w.items() if v < 0}
        if negative:
            raise ValueError(f'CCU weights must be >= 0, got {negative}')

    def _on(self, *terms: str) -> bool:
        return any(self.w[t] > 0 for t in terms)

    @staticmethod
    def _feats(student: nn.Module, teacher: nn.Module, batch: Batch,
               modality: str) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """Student (with gradients) and teacher (without) modal features of a batch."""
        inputs, samples = batch['inputs'], batch['data_samples']
        with use_modality(student, modality):
            s = student.extract_modal_feats(inputs, samples)
        with use_modality(teacher, modality), torch.no_grad():
            t = teacher.extract_modal_feats(inputs, samples)
        return s, t

    def _embed(self, feats: Tensor, objects) -> Tuple[Tensor, Tensor]:
        """Object embeddings on one feature map and the labels of the objects kept."""
        keep = self.pooler.kept(objects, *feats.shape[-2:])
        return self.pooler(feats, objects), objects.labels[keep]

    def loss(self, student: nn.Module, teacher: nn.Module, retain: Batch,
             forget: Batch) -> Dict[str, Tensor]:
        """All enabled terms, weighted, plus unweighted ``ccu_*`` diagnostics (not summed by
        mmengine's ``parse_losses``, which sums only names containing ``'loss'``)."""
        out: Dict[str, Tensor] = {}
        s_r, t_r = self._feats(student, teacher, retain, 'fusion')
        if self._on('detection'):
            head = student.head_loss(s_r['fused'], retain['data_samples'])
            out.update({f'retain_{k}': self.w['detection'] * v for k, v in head.items()
                        if 'loss' in k})
        r_obj = gt_objects(retain['data_samples'])
        z_r, y_r = self._embed(s_r['camera'], r_obj)
        t_cam_r, _ = self._embed(t_r['camera'], r_obj)
        if self._on('retain_structure'):
            out['loss_retain_structure'] = self.w['retain_structure'] * L.anchored_supcon(
                z_r, y_r, t_cam_r, self.temperature)
        s_f = None
        if self._on('unlearn', 'spread', 'radar_embedding', 'separation', 'forget_fusion'):
            terms, s_f = self._forget_terms(student, teacher, forget, t_cam_r, y_r)
            out.update(terms)
        if self._on('radar_bev', 'radar_detection', 'forget_fusion'):
            out.update(self._radar_only_terms(student, teacher, forget, s_f))
        return out

    def _forget_terms(self, student, teacher, forget: Batch, t_cam_r: Tensor,
                      y_r: Tensor) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """(a), (b) on radar embeddings and (c) separation, from fusion-mode forget features;
        also returns the student's fusion-mode features of the forget batch."""
        out = {}
        s_f, t_f = self._feats(student, teacher, forget, 'fusion')
        f_obj = gt_objects(forget['data_samples'])
        z_f, y_f = self._embed(s_f['camera'], f_obj)
        t_cam_f, _ = self._embed(t_f['camera'], f_obj)
        if self._on('unlearn'):
            protos, proto_labels = L.class_prototypes(torch.cat([t_cam_f, t_cam_r]),
                                                      torch.cat([y_f, y_r]))
            out['loss_unlearn'] = self.w['unlearn'] * L.inverse_infonce(
                z_f, t_cam_f, y_f, protos, proto_labels, self.temperature)
        if self._on('spread'):
            out['loss_spread'] = self.w['spread'] * L.spread_preservation(z_f, t_cam_f)
        if self._on('separation'):
            out['loss_separation'] = self.w['separation'] * L.separation(z_f, t_cam_f, t_cam_r)
        if self._on('radar_embedding'):
            r_s, _ = self._embed(s_f['radar'], f_obj)
            r_t, _ = self._embed(t_f['radar'], f_obj)
            out['loss_radar_embedding'] = self.w['radar_embedding'] * L.embedding_consistency(r_s, r_t)
            out['ccu_forget_radar_cos'] = _mean_cos(r_s, r_t)
        out['ccu_forget_camera_cos'] = _mean_cos(z_f, t_cam_f)
        out['ccu_forget_objects'] = z_f.new_tensor(float(z_f.shape[0]))
        return out, s_f

    def _radar_only_terms(self, student, teacher, forget: Batch,
                          s_fusion: Optional[Dict[str, Tensor]]) -> Dict[str, Tensor]:
        """(b) from the teacher's radar-only fused features on forget: the student's radar-only
        (``radar_bev``) and fusion-mode (``forget_fusion``, from ``s_fusion``) fused features
        against them, and the head's radar-only loss."""
        out = {}
        s_f, t_f = self._feats(student, teacher, forget, 'radar')
        if self._on('forget_fusion'):
            out['loss_forget_fusion'] = self.w['forget_fusion'] * L.feature_consistency(
                s_fusion['fused'], t_f['fused'])
        if self._on('radar_bev'):
            out['loss_radar_bev'] = self.w['radar_bev'] * L.feature_consistency(
                s_f['fused'], t_f['fused'])
        if self._on('radar_detection'):
            with use_modality(student, 'radar'):
                head = student.head_loss(s_f['fused'], forget['data_samples'])
            out['loss_radar_detection'] = self.w['radar_detection'] * sum_head_losses(head)
        return out


def _mean_cos(a: Tensor, b: Tensor) -> Tensor:
    """Mean cosine of matching rows (a detached diagnostic; NaN-free on empty input)."""
    if a.shape[0] == 0:
        return a.new_zeros(())
    return torch.nn.functional.cosine_similarity(a.detach(), b.detach(), dim=1).mean()
