"""SalUn (Fan et al., ICLR 2024, "SalUn: Empowering Machine Unlearning via Gradient-based Weight
Saliency"): random labels, with updates restricted to the weights most salient for the forget set.

The pre-pass takes the gradient of the forget set's detection loss (true targets, fusion mode)
with respect to every trainable weight and keeps the ``saliency_fraction`` of weights with the
largest ``|gradient|``, one ranking over all parameters (:mod:`ccu_av.unlearning.saliency`). The
loss is :class:`~.random_labels.RandomLabels`'s (the forget samples towards wrong classes or empty
scenes, plus the retain samples' loss), and only the salient weights move: the
:class:`~ccu_av.unlearning.hooks.UnlearningHook` puts every other weight back exactly after each
optimiser step, so weight decay and momentum cannot move them either (the published code masks
gradients only). ``docs/method.md``, "Baseline: SalUn".
"""
from typing import Dict, Iterable, Optional, Sequence

from mmengine.logging import MMLogger
from torch import Tensor, nn

from ..saliency import ParameterBuffers, gradient_sums, top_fraction_mask
from .base import OBJECTIVES, Batch
from .random_labels import RandomLabels


@OBJECTIVES.register_module(name='SalUn')
class SalUn(RandomLabels):
    """:class:`RandomLabels` on the weights of largest forget-set saliency only.

    Args:
        classes: the detector's class names (as :class:`RandomLabels`).
        saliency_fraction: share of the trainable weights that may change: those of largest
            ``|d L_forget / d theta|``. 0.5 is the paper's main setting.
        random_labels: the other arguments of :class:`RandomLabels` (``mode``, ``seed``).

    State: ``saliency.<parameter>`` (bool, True where the weight may change), from the pre-pass;
    a resumed run gets it from the checkpoint.
    """

    has_prepass = True

    def __init__(self, classes: Sequence[str], saliency_fraction: float = 0.5, **random_labels):
        super().__init__(classes, **random_labels)
        if not 0 < saliency_fraction <= 1:
            raise ValueError(f'saliency_fraction must be in (0, 1], got {saliency_fraction}')
        self.saliency_fraction = float(saliency_fraction)
        self.saliency = ParameterBuffers()

    def prepass(self, student: nn.Module, teacher: nn.Module, forget_batches: Iterable[Batch],
                retain_batches: Optional[Iterable[Batch]] = None) -> None:
        """The saliency mask from the gradient of the forget set's summed detection loss."""
        grads, _ = gradient_sums(student, forget_batches)
        saliency = {name: g.abs() for name, g in grads.items()}
        mask = top_fraction_mask(saliency, self.saliency_fraction)
        self.saliency.set(mask)
        kept = sum(int(m.sum()) for m in mask.values())
        total = sum(m.numel() for m in mask.values())
        MMLogger.get_current_instance().info(f'SalUn: {kept} of {total} trainable weights salient')

    def update_mask(self, student: nn.Module) -> Dict[str, Tensor]:
        mask = self.saliency.as_dict()
        if not mask:
            raise RuntimeError('SalUn has no saliency mask: its pre-pass did not run and no '
                               'checkpoint provided one')
        return mask
