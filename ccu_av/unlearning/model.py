"""``UnlearningModel``: the detector being unlearned, its frozen original, and an objective.

In the style of mmrazor's ``SingleTeacherDistill``, an unlearning method is a registered
``BaseModel``: mmengine's loop, optimiser, schedule, checkpoints and DDP wrapper drive it like any
model. Its training batches are ``dict(retain=..., forget=...)`` pairs
(:mod:`ccu_av.unlearning.paired_data`); :class:`PairedDataPreprocessor` runs the detector's own
preprocessor on each half, and ``forward(mode='loss')`` hands both to the objective
(:mod:`ccu_av.unlearning.objectives`). Because the objective runs inside ``forward``, the DDP
wrapper synchronises its gradients.

State: ``student.*`` (the detector, trained), ``teacher.*`` (the original, frozen, in eval mode)
and ``objective.*`` (an objective's own buffers) are all in ``state_dict``, so a checkpoint holds
everything a resumed run needs, as plain tensors. Both networks are loaded, strictly, from
``original_checkpoint`` when the runner initialises the weights; a resume then overwrites them
with the checkpoint's.
"""
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.logging import MessageHub
from mmengine.model import BaseDataPreprocessor, BaseModel
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet3d.registry import MODELS

from ..models.interface import check_modal_interface
from ..models.weights import load_detector_weights
from .objectives import OBJECTIVES, UnlearningObjective
from .teacher import snapshot_teacher


class PairedDataPreprocessor(BaseDataPreprocessor):
    """The detector's preprocessor applied to each half of a ``dict(retain=, forget=)`` batch;
    any other batch (evaluation) goes through it unchanged.

    Returns, for a paired batch, ``dict(inputs=dict(retain=batch, forget=batch or None),
    data_samples=None)``, each ``batch`` as the detector's preprocessor returns it.
    """

    def __init__(self, preprocessor: BaseDataPreprocessor):
        super().__init__()
        self.preprocessor = preprocessor

    def forward(self, data: dict, training: bool = False) -> dict:
        if set(data) != {'retain', 'forget'}:
            return self.preprocessor(data, training)
        forget = data['forget']
        return dict(inputs=dict(retain=self.preprocessor(data['retain'], training),
                                forget=None if forget is None else self.preprocessor(forget, training)),
                    data_samples=None)


@MODELS.register_module()
class UnlearningModel(BaseModel):
    """A detector unlearned by a registered objective against its frozen original.

    Args:
        detector: config of the detector (built through mmdet3d's MODELS) or the module itself;
            it must offer the modal-features interface (``docs/modal_interface.md``).
        objective: config of the objective, built from :data:`OBJECTIVES` (``type='CCU'``, ...).
        original_checkpoint: the original detector's weights, loaded strictly into the student
            and the teacher by :meth:`init_weights`. Required to train.
        frozen_modules: names of the detector's submodules (dotted, as in ``named_modules``) kept
            fixed and in eval mode, e.g. ``('radar_encoder',)``.
        norm_eval: keep every batch norm of the detector in eval mode: its running statistics
            stay the original's and batches are normalised with them (the forget batches, and
            single-modality features, would otherwise shift the statistics every scene is
            normalised with).
    """

    def __init__(self, detector: Union[dict, nn.Module], objective: dict,
                 original_checkpoint: Optional[str] = None, frozen_modules: Sequence[str] = (),
                 norm_eval: bool = False):
        student = MODELS.build(detector) if isinstance(detector, dict) else detector
        try:
            check_modal_interface(student)
        except TypeError as err:
            raise TypeError(f'UnlearningModel needs a detector with the modal-features interface '
                            f'(docs/modal_interface.md): {err}') from err
        super().__init__(data_preprocessor=PairedDataPreprocessor(student.data_preprocessor))
        self.student = student
        self.teacher = snapshot_teacher(student)
        self.objective: UnlearningObjective = OBJECTIVES.build(objective) if isinstance(objective, dict) else objective
        self.original_checkpoint = original_checkpoint
        self.frozen_modules = tuple(frozen_modules)
        self.norm_eval = bool(norm_eval)
        # 1 once the objective's pre-pass ran (a buffer, so a resumed run knows it did)
        self.register_buffer('prepass_done', torch.zeros((), dtype=torch.uint8))
        frozen = self._submodules(self.frozen_modules)
        for module in frozen:
            module.requires_grad_(False)
        norms = [m for m in student.modules() if isinstance(m, _BatchNorm)] if norm_eval else []
        self._eval_modules = frozen + norms

    def _submodules(self, names: Sequence[str]):
        modules = dict(self.student.named_modules())
        unknown = [name for name in names if name not in modules]
        if unknown:
            raise ValueError(f'UnlearningModel frozen_modules {unknown} are not submodules of '
                             f'{type(self.student).__name__}; its top-level modules are '
                             f'{[n for n, _ in self.student.named_children()]}')
        return [modules[name] for name in names]

    def init_weights(self) -> None:
        """Load the original into the student and the teacher (strictly)."""
        if not self.original_checkpoint:
            raise ValueError('UnlearningModel needs original_checkpoint: the original detector '
                             'to unlearn from (mmengine\'s load_from does not apply to it)')
        load_detector_weights(self.student, self.original_checkpoint)
        self.teacher.load_state_dict(self.student.state_dict(), strict=True)

    def train(self, mode: bool = True) -> 'UnlearningModel':
        """Train the student; the teacher, the frozen modules and (``norm_eval``) the batch
        norms stay in eval mode."""
        super().train(mode)
        self.teacher.eval()
        if mode:
            for module in self._eval_modules:
                module.eval()
        return self

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        """``loss``: the objective's terms on ``inputs=dict(retain=, forget=)``; ``predict`` and
        ``tensor``: the student's."""
        if mode == 'loss':
            return self.loss(inputs['retain'], inputs['forget'])
        return self.student(inputs, data_samples, mode=mode)

    def loss(self, retain: dict, forget: Optional[dict]) -> Dict[str, torch.Tensor]:
        if self.objective.has_prepass and not int(self.prepass_done):
            raise RuntimeError(f'{type(self.objective).__name__} needs its pre-pass before '
                               'training: add dict(type="UnlearningHook") to custom_hooks')
        if forget is None and self.objective.needs_forget:
            raise ValueError(f'{type(self.objective).__name__} reads forget batches, but the '
                             'batch has none: set the PairedBatchSampler forget_batch_size > 0')
        iteration = int(MessageHub.get_current_instance().get_info('iter', 0))
        return self.objective.loss(self.student, self.teacher, retain, forget, iteration)
