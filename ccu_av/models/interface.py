"""The modal-features interface: how unlearning code sees a camera+radar fusion detector.

Unlearning methods touch a detector only through these members, so any fusion detector that
offers them can be unlearned, ours (:class:`CamRadarBEVFusion`) or a user's:

``modality`` (str attribute)
    ``'fusion'``, ``'camera'`` (radar features switched off) or ``'radar'`` (camera switched
    off). ``extract_modal_feats``, ``predict`` and ``loss`` follow it.
``extract_modal_feats(batch_inputs, batch_data_samples) -> dict``
    ``camera``: (B, C_cam, Y, X) camera BEV features; ``radar``: (B, C_rad, Y, X) radar BEV
    features; ``fused``: (B, C, Y, X) the features the detection head reads. A modality switched
    off by ``modality`` comes back as zeros of its usual shape, and ``fused`` is computed
    without it. Modality dropout (a training-only augmentation) is *not* applied here.
``fuse_modal_feats(camera_feats, radar_feats) -> Tensor``
    The fused features from given camera and radar BEV features: ``extract_modal_feats``'s
    ``fused`` is ``fuse_modal_feats(camera, radar)`` of its own ``camera`` and ``radar``, so a
    method can score one modality alone (zeros for the other) without running the sensor
    branches again.
``head_forward(fused_feats) -> dict``
    The head's dense outputs on ``fused`` features, differentiable: ``heatmap``: (B, K, Y', X')
    class logits (before the sigmoid, K classes, channel ``k`` that of the samples' label ``k``:
    CCU's object matching reads an object's own class); ``regression``: (B, R, Y', X') the box
    regression maps (R may be 0). They are what ``head_loss`` and ``head_predict`` decode, so a
    method can distil or compare the head's outputs of two models cell by cell.
``head_loss(fused_feats, batch_data_samples) -> dict``
    The detection head's losses on ``fused`` features (``gt_instances_3d`` on the samples).
``head_predict(fused_feats, batch_data_samples) -> list``
    One ``InstanceData`` per sample with ``bboxes_3d`` (LiDAR boxes with velocity),
    ``scores_3d`` and ``labels_3d``.

Optional (a method that needs it names it; :func:`image_feats` refuses a model without it):

``extract_image_feats(batch_inputs, batch_data_samples) -> Tensor``
    (B, N, C, H, W): the camera branch's features of each of the N camera images, before they
    are lifted to BEV (what the model sees of an image's look: CCU's retain support).
``image_aux_loss(image_feats, batch_data_samples) -> dict``
    The camera branch's image-plane losses (an auxiliary head on the image features, trained
    with the detector) on given ``extract_image_feats`` features, against the samples'
    ``gt_instances_3d``; empty when the detector has none (CCU's image-plane forget term).

:class:`ModalityMixin` gives a detector the ``modality`` attribute (validated) and the
``use_modality`` context manager; :func:`check_modal_interface` checks that a model conforms.
"""
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Protocol, runtime_checkable

import torch
from torch import Tensor

MODALITIES = ('fusion', 'camera', 'radar')
FEATURE_KEYS = ('camera', 'radar', 'fused')
HEAD_KEYS = ('heatmap', 'regression')
MEMBERS = ('extract_modal_feats', 'fuse_modal_feats', 'head_forward', 'head_loss', 'head_predict')


@runtime_checkable
class ModalFusionDetector(Protocol):
    """Structural type of a detector that unlearning code can work with (see module doc)."""

    modality: str

    def extract_modal_feats(self, batch_inputs: dict, batch_data_samples: list) -> Dict[str, Tensor]:
        ...

    def fuse_modal_feats(self, camera_feats: Tensor, radar_feats: Tensor) -> Tensor:
        ...

    def head_forward(self, fused_feats: Tensor) -> Dict[str, Tensor]:
        ...

    def head_loss(self, fused_feats: Tensor, batch_data_samples: list) -> Dict[str, Tensor]:
        ...

    def head_predict(self, fused_feats: Tensor, batch_data_samples: list) -> list:
        ...


def validate_modality(modality: str) -> str:
    """Return ``modality`` if it is one of :data:`MODALITIES`, else raise ``ValueError``."""
    if modality not in MODALITIES:
        raise ValueError(f'modality must be one of {MODALITIES}, got {modality!r}')
    return modality


class ModalityMixin:
    """A validated ``modality`` attribute and a context manager to switch it temporarily."""

    _modality: str = 'fusion'

    @property
    def modality(self) -> str:
        return self._modality

    @modality.setter
    def modality(self, value: str) -> None:
        self._modality = validate_modality(value)

    def use_modality(self, modality: str):
        """Context manager: run the block with ``modality`` set, then restore the previous one."""
        return use_modality(self, modality)


@contextmanager
def use_modality(model: ModalFusionDetector, modality: str) -> Iterator[ModalFusionDetector]:
    """Context manager that sets ``model.modality`` for a block, for any conforming model."""
    previous = model.modality
    model.modality = validate_modality(modality)
    try:
        yield model
    finally:
        model.modality = previous


def modal_feats(model: ModalFusionDetector, batch_inputs: dict, batch_data_samples: list,
                modality: str = 'fusion') -> Dict[str, Tensor]:
    """``extract_modal_feats`` of a batch with ``modality`` set (the model's own restored after)."""
    with use_modality(model, modality):
        return model.extract_modal_feats(batch_inputs, batch_data_samples)


def image_feats(model, batch_inputs: dict, batch_data_samples: list) -> Tensor:
    """``extract_image_feats`` of a batch (the optional member, module doc)."""
    extract = getattr(model, 'extract_image_feats', None)
    if not callable(extract):
        raise TypeError(f'{type(model).__name__} has no extract_image_feats(batch_inputs, '
                        'batch_data_samples) -> (B, N, C, H, W): the optional member of the modal '
                        'interface that this method needs (ccu_av/models/interface.py)')
    feats = extract(batch_inputs, batch_data_samples)
    if feats.dim() != 5 or feats.shape[0] != len(batch_data_samples):
        raise TypeError(f'{type(model).__name__}.extract_image_feats must return (B, N, C, H, W) '
                        f'with B = {len(batch_data_samples)}, got {tuple(feats.shape)}')
    return feats


def image_aux_loss(model, feats: Tensor, batch_data_samples: list) -> Dict[str, Tensor]:
    """``image_aux_loss`` of ``feats`` (the optional member, module doc)."""
    compute = getattr(model, 'image_aux_loss', None)
    if not callable(compute):
        raise TypeError(f'{type(model).__name__} has no image_aux_loss(image_feats, batch_data_samples) '
                        '-> dict: the optional member of the modal interface that this method needs '
                        '(ccu_av/models/interface.py)')
    return compute(feats, batch_data_samples)


def camera_losses(model, batch_inputs: dict, batch_data_samples: list) -> Dict[str, Tensor]:
    """The detector's own training losses (mmengine's ``forward(..., mode='loss')``) on a batch in camera-only mode,
    summed over tasks by loss name (``task0.loss_heatmap`` + ``task1.loss_heatmap`` ->
    ``loss_heatmap``), in name order, with their gradients: how well the camera alone fits the
    batch's objects, depth and image-plane targets (what the membership attack reads)."""
    with use_modality(model, 'camera'):
        losses = model(batch_inputs, batch_data_samples, mode='loss')
    grouped: Dict[str, Tensor] = {}
    for name, value in losses.items():
        if 'loss' not in name:
            continue
        value = sum(v.sum() for v in value) if isinstance(value, (list, tuple)) else value.sum()
        key = name.rsplit('.', 1)[-1]
        grouped[key] = grouped[key] + value if key in grouped else value
    return dict(sorted(grouped.items()))


def check_modal_interface(model, batch_inputs: Optional[dict] = None,
                          batch_data_samples: Optional[List] = None) -> None:
    """Raise ``TypeError`` naming what ``model`` lacks to serve unlearning code.

    Without a batch only the members are checked. With one, ``extract_modal_feats`` is run
    (without gradients) in every modality and its result checked: the three keys, tensors
    with the batch's size, zeros for a switched-off modality, and ``fused`` equal to
    ``fuse_modal_feats`` of the returned camera and radar features; and ``head_forward`` of the
    fused features is checked for its two keys, dense maps of one grid with the batch's size.
    """
    missing = [name for name in MEMBERS if not callable(getattr(model, name, None))]
    if not hasattr(model, 'modality'):
        missing.append('modality')
    if missing:
        raise TypeError(f'{type(model).__name__} does not provide the modal-features interface: '
                        f'missing {missing}')
    if batch_inputs is None:
        return
    B = len(batch_data_samples)
    for modality in MODALITIES:
        with use_modality(model, modality), torch.no_grad():
            feats = model.extract_modal_feats(batch_inputs, batch_data_samples)
            _check_feats(type(model).__name__, modality, feats, B)
            refused = model.fuse_modal_feats(feats['camera'], feats['radar'])
            if modality == 'fusion':
                _check_head(type(model).__name__, model.head_forward(feats['fused']), B)
        if not torch.allclose(refused, feats['fused'], rtol=1e-4, atol=1e-5):
            raise TypeError(f'{type(model).__name__}.fuse_modal_feats(camera, radar) differs from '
                            f"extract_modal_feats()['fused'] in {modality!r} mode (largest difference "
                            f'{(refused - feats["fused"]).abs().max().item():.3g})')


def _check_feats(name: str, modality: str, feats, B: int) -> None:
    """Checks one ``extract_modal_feats`` result (see :func:`check_modal_interface`)."""
    if not isinstance(feats, dict) or set(FEATURE_KEYS) - set(feats):
        raise TypeError(f'{name}.extract_modal_feats must return a dict with keys {FEATURE_KEYS}, '
                        f'got {type(feats).__name__} {sorted(feats) if isinstance(feats, dict) else ""}')
    for key in FEATURE_KEYS:
        if not isinstance(feats[key], Tensor) or feats[key].dim() != 4 or feats[key].shape[0] != B:
            raise TypeError(f'{name}.extract_modal_feats()[{key!r}] in {modality!r} mode must be a '
                            f'(B={B}, C, Y, X) tensor, got {getattr(feats[key], "shape", feats[key])}')
    off = {'camera': 'radar', 'radar': 'camera'}.get(modality)
    if off is not None and feats[off].abs().sum() != 0:
        raise TypeError(f'{name}.extract_modal_feats in {modality!r} mode must return zeros for '
                        f'the switched-off {off!r} features')


def _check_head(name: str, outputs, B: int) -> None:
    """Checks one ``head_forward`` result (see :func:`check_modal_interface`)."""
    if not isinstance(outputs, dict) or set(HEAD_KEYS) - set(outputs):
        keys = sorted(outputs) if isinstance(outputs, dict) else ''
        raise TypeError(f'{name}.head_forward must return a dict with keys {HEAD_KEYS}, got '
                        f'{type(outputs).__name__} {keys}')
    shapes = {key: tuple(getattr(outputs[key], 'shape', ())) for key in HEAD_KEYS}
    heatmap, regression = shapes['heatmap'], shapes['regression']
    if (len(heatmap) != 4 or len(regression) != 4 or heatmap[0] != B or regression[0] != B
            or heatmap[2:] != regression[2:]):
        raise TypeError(f"{name}.head_forward()'s heatmap and regression must be (B={B}, C, Y, X) "
                        f'tensors on one grid, got {shapes}')
