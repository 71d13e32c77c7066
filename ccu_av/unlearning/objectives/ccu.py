"""Cross-modal Contrastive Unlearning (CCU) for camera+radar BEV detectors.

Combines the terms of :mod:`ccu_av.unlearning.losses` on one retain batch and one forget batch,
touching the detector only through the modal-features interface (:mod:`ccu_av.models.interface`).
The equations and the reasons behind each choice are in ``docs/method.md``.
"""
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ...models.interface import camera_losses, image_aux_loss, image_feats, modal_feats, use_modality
from .. import losses as L
from .. import support as S
from ..embeddings import BoxPooler, gt_objects
from .base import OBJECTIVES, Batch, UnlearningObjective

LOSS_EPS = 1e-6  # log(loss + eps), as the membership attack reads the losses


def sum_head_losses(head_losses: Dict[str, object]) -> Tensor:
    """Sum of the entries whose name contains ``'loss'`` (tensors or lists of them), as
    mmengine's ``BaseModel.parse_losses`` counts them."""
    total = 0
    for name, value in head_losses.items():
        if 'loss' in name:
            total = total + (sum(v.mean() for v in value) if isinstance(value, (list, tuple))
                             else value.mean())
    return total


def without_objects(batch_data_samples: list) -> list:
    """Copies of the samples whose ``gt_instances_3d`` hold no objects (the other fields shared):
    a head loss on them asks for an empty heatmap."""
    empty = []
    for ds in batch_data_samples:
        copy = ds.clone()
        gt = ds.gt_instances_3d
        copy.gt_instances_3d = gt[torch.zeros(0, dtype=torch.long, device=gt.labels_3d.device)]
        empty.append(copy)
    return empty


@OBJECTIVES.register_module(name='CCU')
class CCU(UnlearningObjective):
    """The CCU objective: detection on retain + (a) unlearning + (b) retention + (c) separation
    (``docs/method.md``).

    A weight of 0 switches its term off and skips the computation it alone needs.

    Args:
        point_cloud_range: ``[x0, y0, z0, x1, y1, z1]`` of the detector's BEV grid (metres).
        temperature: of the contrastive terms (a) and (c).
        w_detection: head loss on retain samples (fusion mode).
        w_unlearn: (a) inverse InfoNCE on forget objects' camera embeddings.
        w_spread: (a) norm and spread preservation of those embeddings (no collapse).
        w_camera_forget: (a) the camera alone finds nothing on forget samples: the head's loss in
            camera-only mode against an empty scene.
        w_image_forget: (a) the same for the camera branch's image-plane auxiliary head
            (``image_aux_loss`` of the modal interface): its loss on the forget samples' images
            against images without objects. The BEV terms give that head no gradient, so without
            this term what it learned of the flagged images stays (a membership signal).
        w_image_retain: (c) that head's own training loss on the retain samples' images (their
            true objects), which holds the head where ``w_image_forget`` would empty it on every
            image (seen on the private-site takedown; searched on the development takedown and
            not adopted, docs/results.md, session 11).
        w_radar_embedding: (b) forget objects' radar embeddings vs the teacher's.
        w_radar_bev: (b) radar-only fused BEV (what the head reads) vs the teacher's, on forget.
        w_radar_detection: (b) head loss in radar-only mode on forget samples.
        w_retain_structure: (c) teacher-anchored supervised contrastive on retain objects.
        w_separation: (c) forget objects may not move closer to retain objects.
        w_retain_features: (c) retain samples' camera and fused BEV features vs the teacher's:
            the model keeps what it knows outside the takedown.
        w_forget_fusion: (b) fusion-mode fused BEV on forget vs the teacher's radar-only one:
            the fused features lean on radar where the camera knowledge was removed.
        support_quantile: ``None``: every forget sample is unlearned in full. A number ``q``:
            a pre-pass over the forget set and part of the retain set weighs each forget
            sample's unlearning terms ((a), (c) separation, forget fusion) by how little the
            retain set supports the look the original model sees in its camera images (their
            image features' channel statistics; :mod:`ccu_av.unlearning.support`): near 0 for a
            sample that looks like retain samples, 1 for a look no retain sample has.
        min_forget_weight: the least weight of a forget sample with support (``w = m + (1 - m)
            u``): what is memorised of a sample also goes where its look stays known.
        w_forget_match: (a) the forget batches' camera-only training losses (each loss of the
            detector's own ``loss`` in camera mode: box heatmap and regression, depth, image
            plane; ``interface.camera_losses``) are raised to the level the original has on
            held-out samples of the same locations, and no further: ``sum_k max(0, tau_k -
            log L_k(forget batch))``, ``tau_k`` the original's mean ``log L_k`` over held-out
            batches of the same size (the pre-pass; the hook's ``prepass_holdout_samples``).
            Flagged footage then fits the camera as unseen footage of its places does: what was
            memorised goes, what the rest of the data teaches stays.
        match_per_sample: ``w_forget_match`` per sample instead of per batch: each forget
            sample's own losses against the held-out samples' mean ``log L_k`` (each held-out
            sample measured alone), the shortfalls averaged over the batch. A batch mixes samples
            of looks the retain set lacks, whose losses the other forget terms raise, with
            ordinary ones; per batch, the first hide the second's shortfall. Costs one camera
            pass per forget sample instead of one per batch.
        w_object_match: (a) each forget sample's camera-only confidence at its own objects is
            lowered to the level the original has at the objects of held-out samples of the
            same locations, and no further: ``mean_b max(0, nu - log C_b)``, ``C_b`` the mean over
            sample ``b``'s objects of ``softplus(-h)``, ``h`` the head's camera-only heatmap
            logit of the object's class pooled over its BEV footprint (``head_forward``), and
            ``nu`` the original's mean ``log C`` over held-out samples (the same pre-pass as
            ``w_forget_match``). The detection losses that ``w_forget_match`` reads average the
            whole heatmap, background cells included; this term reads the confidence at the true
            objects, one of the two things mAP reads (where the boxes go is the other). Per
            sample at no extra cost (one head pass on the camera-alone features per batch). On
            the development takedown it found little to do (``docs/results.md``, session 19):
            off in the main job.
    """

    def __init__(self,
                 point_cloud_range: Sequence[float],
                 temperature: float = 0.1,
                 w_detection: float = 1.0,
                 w_unlearn: float = 1.0,
                 w_spread: float = 1.0,
                 w_camera_forget: float = 0.0,
                 w_image_forget: float = 0.0,
                 w_image_retain: float = 0.0,
                 w_radar_embedding: float = 1.0,
                 w_radar_bev: float = 1.0,
                 w_radar_detection: float = 1.0,
                 w_retain_structure: float = 1.0,
                 w_separation: float = 1.0,
                 w_retain_features: float = 0.0,
                 w_forget_fusion: float = 0.1,
                 support_quantile: Optional[float] = None,
                 min_forget_weight: float = 0.0,
                 w_forget_match: float = 0.0,
                 match_per_sample: bool = False,
                 w_object_match: float = 0.0):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature must be positive, got {temperature}')
        if support_quantile is not None and not 0.0 <= support_quantile < 1.0:
            raise ValueError(f'support_quantile must be None or in [0, 1), got {support_quantile}')
        if not 0.0 <= min_forget_weight <= 1.0:
            raise ValueError(f'min_forget_weight must be in [0, 1], got {min_forget_weight}')
        self.support_quantile = support_quantile
        self.min_forget_weight = float(min_forget_weight)
        self.prepass_reads_retain = support_quantile is not None
        self.prepass_reads_holdout = w_forget_match > 0 or w_object_match > 0
        self.match_per_sample = bool(match_per_sample)
        self.has_prepass = self.prepass_reads_retain or self.prepass_reads_holdout
        # per forget sample: token key (support.token_key) and weight, filled by the pre-pass
        self.register_buffer('forget_keys', torch.zeros(0, dtype=torch.long))
        self.register_buffer('forget_weights', torch.zeros(0))
        # per camera-only loss (in name order): the original's mean log loss on held-out batches
        self.register_buffer('match_targets', torch.zeros(0))
        # (1,): the original's mean log camera-only object nll on held-out samples
        self.register_buffer('object_match_target', torch.zeros(0))
        self.pooler = BoxPooler(point_cloud_range)
        self.temperature = temperature
        self.w = dict(detection=w_detection, unlearn=w_unlearn, spread=w_spread, camera_forget=w_camera_forget,
                      image_forget=w_image_forget, image_retain=w_image_retain, radar_embedding=w_radar_embedding, radar_bev=w_radar_bev,
                      radar_detection=w_radar_detection, retain_structure=w_retain_structure,
                      separation=w_separation, retain_features=w_retain_features, forget_fusion=w_forget_fusion,
                      forget_match=w_forget_match, object_match=w_object_match)
        negative = {k: v for k, v in self.w.items() if v < 0}
        if negative:
            raise ValueError(f'CCU weights must be >= 0, got {negative}')

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # the pre-pass's buffers have one entry per forget sample: take the checkpoint's size
        for name in ('forget_keys', 'forget_weights', 'match_targets', 'object_match_target'):
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def prepass(self, student: nn.Module, teacher: nn.Module, forget_batches: Iterable[Batch],
                retain_batches: Optional[Iterable[Batch]] = None,
                holdout_batches: Optional[Iterable[Batch]] = None) -> None:
        """Each forget sample's weight from the retain set's support (``support_quantile``): the
        teacher's look of each camera image of a forget sample against those of the retain
        samples' images of the same camera in other scenes; and the held-out level of each
        camera-only loss (``w_forget_match``) and of the camera's confidence at objects
        (``w_object_match``)."""
        if self.prepass_reads_holdout:
            if holdout_batches is None:
                raise ValueError('CCU with w_forget_match or w_object_match needs held-out batches in its pre-pass')
            loss_logs, object_logs = [], []  # one pass over the held-out batches, which may be many
            for batch in holdout_batches:
                if self._on('forget_match'):
                    parts = _single_samples(batch) if self.match_per_sample else [batch]
                    loss_logs += [_camera_log_losses(teacher, part)[1] for part in parts]
                if self._on('object_match'):
                    object_logs.append(self._object_log_nlls(teacher, batch))
            if self._on('forget_match'):
                if not loss_logs:
                    raise ValueError('CCU pre-pass: there are no held-out samples to measure the camera-only losses on')
                self.match_targets = torch.stack(loss_logs).mean(0).to(self.match_targets.device)
            if self._on('object_match'):
                logs = torch.cat(object_logs) if object_logs else torch.zeros(0)
                if not logs.numel():
                    raise ValueError('CCU pre-pass: there are no held-out samples with objects to measure '
                                     "the camera's confidence at objects on (w_object_match)")
                self.object_match_target = logs.mean().reshape(1).to(self.object_match_target.device)
        if self.support_quantile is None:
            for _ in forget_batches:  # the forget set is read, and must not be empty, either way
                return
            raise ValueError('CCU pre-pass: the forget set is empty')
        if retain_batches is None:
            raise ValueError('CCU with support_quantile needs the retain batches in its pre-pass')
        forget, retain = _image_looks(teacher, forget_batches), _image_looks(teacher, retain_batches)
        if not forget['tokens']:
            raise ValueError('CCU pre-pass: the forget set is empty')
        supported = S.object_support(forget['looks'], forget['cameras'], retain['looks'], retain['cameras'],
                                     retain['scenes'], self.support_quantile)
        unsupported = S.sample_weights(supported, forget['sample'], len(forget['tokens']), self.support_quantile)
        device = self.forget_weights.device
        self.forget_keys = torch.tensor([S.token_key(t) for t in forget['tokens']], dtype=torch.long, device=device)
        self.forget_weights = (self.min_forget_weight + (1 - self.min_forget_weight) * unsupported).to(device)

    def sample_weights(self, samples: List) -> Optional[Tensor]:
        """(B,) the forget weights of a batch's samples (None without ``support_quantile``)."""
        if self.support_quantile is None:
            return None
        return S.lookup(self.forget_keys, self.forget_weights, [ds.metainfo['token'] for ds in samples])

    @staticmethod
    def _weighted_head_loss(loss_fn, feats: Tensor, samples: List, weights: Tensor) -> Tensor:
        """``sum_b w_b L_b`` over the batch's samples (``L = sum_head_losses(loss_fn(feats,
        samples))``), rescaled by the detached ratio of the batch's loss to ``sum_b L_b``:
        whatever way a head normalises a batch's loss (a sum, a mean over samples), weights of 1
        give the batch's loss and its gradient."""
        per_sample = [sum_head_losses(loss_fn(feats[b:b + 1], samples[b:b + 1]))
                      for b in range(feats.shape[0])]
        with torch.no_grad():
            batch = sum_head_losses(loss_fn(feats, samples))
            total = sum(per_sample).detach()
            scale = batch / total if total.abs() > 0 else total.new_ones(())
        return scale * sum(w * loss for w, loss in zip(weights.to(feats.device), per_sample))

    def _match_shortfall(self, student: nn.Module, batch: Batch) -> Tensor:
        """(K,) how far each camera-only log loss of ``batch`` is below its held-out level (0 above it)."""
        names, logs = _camera_log_losses(student, batch)
        if len(names) != self.match_targets.numel():
            raise RuntimeError(f'CCU forget_match: {len(names)} camera-only losses {names} but '
                               f'{self.match_targets.numel()} held-out levels from the pre-pass')
        return (self.match_targets.to(logs.device) - logs).clamp(min=0)

    def _object_log_nll(self, model: nn.Module, camera_alone: Tensor, samples: List) -> Tuple[Tensor, Tensor]:
        """(B,) ``log C_b`` (``w_object_match``) of each sample from its camera-alone fused
        features, and (B,) whether the sample has an object on the head's grid (else 0)."""
        heatmap = model.head_forward(camera_alone)['heatmap']  # (B, K, Y, X) class logits
        objects = gt_objects(samples)
        keep = self.pooler.kept(objects, *heatmap.shape[-2:])
        logits = self.pooler(heatmap, objects)  # (K', classes): mean logit over each footprint
        nll = nn.functional.softplus(-logits.gather(1, objects.labels[keep][:, None]).squeeze(1))
        idx, B = objects.sample_idx[keep], len(samples)
        total = nll.new_zeros(B).index_add(0, idx, nll)
        count = nll.new_zeros(B).index_add(0, idx, torch.ones_like(nll))
        has = count > 0
        return torch.where(has, torch.log(total / count.clamp(min=1) + LOSS_EPS), torch.zeros_like(total)), has

    def _object_log_nlls(self, model: nn.Module, batch: Batch) -> Tensor:
        """``log C_b`` of ``model`` (camera only) for each sample of ``batch`` that has objects."""
        camera = modal_feats(model, batch['inputs'], batch['data_samples'], 'camera')['fused']
        log_nll, has = self._object_log_nll(model, camera, batch['data_samples'])
        return log_nll[has].cpu()

    def _on(self, *terms: str) -> bool:
        return any(self.w[t] > 0 for t in terms)

    @staticmethod
    def _feats(student: nn.Module, teacher: nn.Module, batch: Batch) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """Student (with gradients) and teacher (without) fusion-mode modal features of a batch."""
        inputs, samples = batch['inputs'], batch['data_samples']
        s = modal_feats(student, inputs, samples)
        with torch.no_grad():
            t = modal_feats(teacher, inputs, samples)
        return s, t

    @staticmethod
    def _alone(model: nn.Module, feats: Dict[str, Tensor], modality: str) -> Tensor:
        """Fused features of one modality alone (the other zeroed), as in that modality's mode."""
        if modality == 'camera':
            return model.fuse_modal_feats(feats['camera'], torch.zeros_like(feats['radar']))
        return model.fuse_modal_feats(torch.zeros_like(feats['camera']), feats['radar'])

    def _embed(self, feats: Tensor, objects) -> Tuple[Tensor, Tensor]:
        """Object embeddings on one feature map and the labels of the objects kept."""
        keep = self.pooler.kept(objects, *feats.shape[-2:])
        return self.pooler(feats, objects), objects.labels[keep]

    def loss(self, student: nn.Module, teacher: nn.Module, retain: Batch, forget: Batch,
             iteration: int = 0) -> Dict[str, Tensor]:
        """All enabled terms, weighted, plus unweighted ``ccu_*`` diagnostics (not summed by
        mmengine's ``parse_losses``, which sums only names containing ``'loss'``).

        The student and the teacher each run once in fusion mode on each batch; single-modality
        features come from ``fuse_modal_feats`` with the other modality zeroed. Every step is
        the same (``iteration`` is not read)."""
        out: Dict[str, Tensor] = {}
        s_r, t_r = self._feats(student, teacher, retain)
        if self._on('detection'):
            head = student.head_loss(s_r['fused'], retain['data_samples'])
            out.update({f'retain_{k}': self.w['detection'] * v for k, v in head.items()
                        if 'loss' in k})
        if self._on('retain_features'):
            out['loss_retain_features'] = self.w['retain_features'] * (
                L.feature_consistency(s_r['camera'], t_r['camera'])
                + L.feature_consistency(s_r['fused'], t_r['fused']))
        if self._on('image_retain'):
            images = image_feats(student, retain['inputs'], retain['data_samples'])
            out['loss_image_retain'] = self.w['image_retain'] * sum_head_losses(
                image_aux_loss(student, images, retain['data_samples']))
        r_obj = gt_objects(retain['data_samples'])
        z_r, y_r = self._embed(s_r['camera'], r_obj)
        t_cam_r, _ = self._embed(t_r['camera'], r_obj)
        if self._on('retain_structure'):
            out['loss_retain_structure'] = self.w['retain_structure'] * L.anchored_supcon(
                z_r, y_r, t_cam_r, self.temperature)
        if self._on('unlearn', 'spread', 'camera_forget', 'image_forget', 'radar_embedding', 'radar_bev',
                    'radar_detection', 'separation', 'forget_fusion', 'forget_match', 'object_match'):
            out.update(self._forget_terms(student, teacher, forget, t_cam_r, y_r))
        return out

    def _forget_terms(self, student, teacher, forget: Batch, t_cam_r: Tensor, y_r: Tensor) -> Dict[str, Tensor]:
        """(a), (b) and (c) separation on the forget batch."""
        out = {}
        samples = forget['data_samples']
        s_f, t_f = self._feats(student, teacher, forget)
        f_obj = gt_objects(samples)
        z_f, y_f = self._embed(s_f['camera'], f_obj)
        t_cam_f, _ = self._embed(t_f['camera'], f_obj)
        w_s = self.sample_weights(samples)  # (B,) or None
        w_o = None if w_s is None else w_s.to(z_f.device)[
            f_obj.sample_idx[self.pooler.kept(f_obj, *s_f['camera'].shape[-2:])]]
        if self._on('unlearn'):
            protos, proto_labels = L.class_prototypes(torch.cat([t_cam_f, t_cam_r]),
                                                      torch.cat([y_f, y_r]))
            out['loss_unlearn'] = self.w['unlearn'] * L.inverse_infonce(
                z_f, t_cam_f, y_f, protos, proto_labels, self.temperature, w_o)
        if self._on('spread'):
            out['loss_spread'] = self.w['spread'] * L.spread_preservation(z_f, t_cam_f, w_o)
        camera_alone = self._alone(student, s_f, 'camera') if self._on('camera_forget', 'object_match') else None
        if self._on('camera_forget'):
            empty = without_objects(samples)
            if w_s is None:
                camera_forget = sum_head_losses(student.head_loss(camera_alone, empty))
            else:
                camera_forget = self._weighted_head_loss(student.head_loss, camera_alone, empty, w_s)
            out['loss_camera_forget'] = self.w['camera_forget'] * camera_forget
        if self._on('image_forget'):
            images, empty = image_feats(student, forget['inputs'], samples), without_objects(samples)
            loss_fn = (lambda feats, ds: image_aux_loss(student, feats, ds))
            if w_s is None:
                image_forget = sum_head_losses(loss_fn(images, empty))
            else:
                image_forget = self._weighted_head_loss(loss_fn, images, empty, w_s)
            out['loss_image_forget'] = self.w['image_forget'] * image_forget
        if self._on('forget_match'):
            parts = _single_samples(forget) if self.match_per_sample else [forget]
            shortfall = torch.stack([self._match_shortfall(student, part) for part in parts]).mean(0)
            out['loss_forget_match'] = self.w['forget_match'] * shortfall.sum()
            out['ccu_forget_match_shortfall'] = shortfall.detach().mean()
        if self._on('object_match'):
            if self.object_match_target.numel() != 1:
                raise RuntimeError('CCU object_match: no held-out level; the pre-pass (UnlearningHook) sets it')
            log_nll, has = self._object_log_nll(student, camera_alone, samples)
            shortfall = (self.object_match_target.to(log_nll.device) - log_nll).clamp(min=0)[has]
            out['loss_object_match'] = self.w['object_match'] * (
                shortfall.mean() if shortfall.numel() else log_nll.sum() * 0)
            out['ccu_object_match_shortfall'] = out['loss_object_match'].detach() / self.w['object_match']
        if self._on('separation'):
            out['loss_separation'] = self.w['separation'] * L.separation(z_f, t_cam_f, t_cam_r, w_o)
        if self._on('radar_embedding'):
            r_s, _ = self._embed(s_f['radar'], f_obj)
            r_t, _ = self._embed(t_f['radar'], f_obj)
            out['loss_radar_embedding'] = self.w['radar_embedding'] * L.embedding_consistency(r_s, r_t)
            out['ccu_forget_radar_cos'] = _mean_cos(r_s, r_t)
        if self._on('radar_bev', 'radar_detection', 'forget_fusion'):
            with torch.no_grad():
                t_radar_alone = self._alone(teacher, t_f, 'radar')
            if self._on('forget_fusion'):
                out['loss_forget_fusion'] = self.w['forget_fusion'] * L.feature_consistency(
                    s_f['fused'], t_radar_alone, None if w_s is None else w_s.to(t_radar_alone.device))
            if self._on('radar_bev', 'radar_detection'):
                s_radar_alone = self._alone(student, s_f, 'radar')
                if self._on('radar_bev'):
                    out['loss_radar_bev'] = self.w['radar_bev'] * L.feature_consistency(s_radar_alone, t_radar_alone)
                if self._on('radar_detection'):
                    with use_modality(student, 'radar'):
                        head = student.head_loss(s_radar_alone, samples)
                    out['loss_radar_detection'] = self.w['radar_detection'] * sum_head_losses(head)
        out['ccu_forget_camera_cos'] = _mean_cos(z_f, t_cam_f)
        out['ccu_forget_objects'] = z_f.new_tensor(float(z_f.shape[0]))
        if w_s is not None:
            out['ccu_forget_weight'] = w_s.mean().detach()
        return out


def _single_samples(batch: Batch) -> List[Batch]:
    """A batch as batches of one sample each (inputs sliced along their first dimension)."""
    return [dict(inputs={k: v[b:b + 1] for k, v in batch['inputs'].items()},
                 data_samples=batch['data_samples'][b:b + 1]) for b in range(len(batch['data_samples']))]


def _camera_log_losses(model: nn.Module, batch: Batch) -> Tuple[List[str], Tensor]:
    """The names and (K,) ``log(L_k + eps)`` of ``model``'s camera-only losses on ``batch``
    (``interface.camera_losses``, name order)."""
    losses = camera_losses(model, batch['inputs'], batch['data_samples'])
    return list(losses), torch.stack([torch.log(v + LOSS_EPS) for v in losses.values()])


def _image_looks(model: nn.Module, batches: Iterable[Batch]) -> dict:
    """The look of every camera image of ``batches`` as ``model`` sees it: the channel means and
    standard deviations of its image features (``interface.image_feats``), with the camera index,
    sample index and scene index of each image, and the samples' tokens."""
    looks, cameras, sample, scenes, tokens, scene_ids = [], [], [], [], [], {}
    for batch in batches:
        samples = batch['data_samples']
        feats = image_feats(model, batch['inputs'], samples)  # (B, N, C, H, W)
        B, N = feats.shape[:2]
        flat = feats.flatten(0, 1).flatten(2)  # (B*N, C, H*W)
        looks.append(torch.cat([flat.mean(2), flat.std(2)], 1).cpu())
        cameras.append(torch.arange(N).repeat(B))
        sample.append(torch.arange(B).repeat_interleave(N) + len(tokens))
        scene = [scene_ids.setdefault(ds.metainfo.get('scene_name', ds.metainfo['token']), len(scene_ids))
                 for ds in samples]
        scenes.append(torch.tensor(scene, dtype=torch.long).repeat_interleave(N))
        tokens += [ds.metainfo['token'] for ds in samples]
    if not looks:
        return dict(looks=torch.zeros(0, 0), cameras=torch.zeros(0, dtype=torch.long), sample=torch.zeros(0, dtype=torch.long),
                    scenes=torch.zeros(0, dtype=torch.long), tokens=[])
    return dict(looks=torch.cat(looks), cameras=torch.cat(cameras), sample=torch.cat(sample), scenes=torch.cat(scenes),
                tokens=tokens)


def _mean_cos(a: Tensor, b: Tensor) -> Tensor:
    """Mean cosine of matching rows (a detached diagnostic; NaN-free on empty input)."""
    if a.shape[0] == 0:
        return a.new_zeros(())
    return torch.nn.functional.cosine_similarity(a.detach(), b.detach(), dim=1).mean()
