"""Fine-tuning on the retain set only: the simplest unlearning baseline.

The detector keeps training with its own training loss (``loss`` mode: modality dropout and any
auxiliary losses included) on retain samples alone; what it learned from the forget samples
fades only as far as catastrophic forgetting takes it (``docs/method.md``).
"""
from typing import Dict, Optional

from torch import Tensor, nn

from .base import OBJECTIVES, Batch, UnlearningObjective


@OBJECTIVES.register_module(name='FineTune')
class FineTune(UnlearningObjective):
    """The detector's training loss on the retain batch; the forget set is never read."""

    needs_forget = False

    def loss(self, student: nn.Module, teacher: nn.Module, retain: Batch, forget: Optional[Batch],
             iteration: int) -> Dict[str, Tensor]:
        losses = student(retain['inputs'], retain['data_samples'], mode='loss')
        return {f'retain_{name}': value for name, value in losses.items()}
