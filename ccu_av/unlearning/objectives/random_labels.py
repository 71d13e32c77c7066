"""Random labels (Golatkar et al., CVPR 2020; the "RL" baseline of Jia et al., NeurIPS 2023, and
of Fan et al., ICLR 2024, SalUn): the forget samples are trained towards wrong targets, together
with the retain samples.

For a detector a forget sample's wrong target is its boxes relabelled to another class
(``'wrong_class'``) or an empty scene (``'empty'``); the loss is the head's in fusion mode
(:mod:`.common`), the retain batch's and the relabelled forget batch's summed in one step
(``docs/method.md``, "Baseline: random labels").
"""
from typing import Dict, List, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from .base import OBJECTIVES, Batch, UnlearningObjective
from .ccu import without_objects
from .common import head_loss_terms, retain_detection

MODES = ('wrong_class', 'empty')


@OBJECTIVES.register_module(name='RandomLabels')
class RandomLabels(UnlearningObjective):
    """Detection loss on retain plus detection loss on forget samples with wrong targets.

    Args:
        classes: the detector's class names (``labels_3d`` index them); a relabelled box gets one
            of the other classes, uniformly.
        mode: ``'wrong_class'`` (every box of a forget sample relabelled) or ``'empty'`` (the
            forget samples' targets hold no objects).
        seed: the relabelling of iteration ``i`` draws from a generator seeded with
            ``(seed, i)`` alone, never from the global random state, so a resumed run draws
            exactly the labels an uninterrupted one does.
    """

    def __init__(self, classes: Sequence[str], mode: str = 'wrong_class', seed: int = 0):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
        if mode == 'wrong_class' and len(classes) < 2:
            raise ValueError(f"mode 'wrong_class' needs two or more classes, got {list(classes)}")
        if seed < 0:
            raise ValueError(f'seed must be >= 0, got {seed}')
        self.classes, self.mode, self.seed = tuple(classes), mode, int(seed)

    def targets(self, samples: List, iteration: int) -> List:
        """Copies of ``samples`` with the wrong targets of ``iteration`` (``samples`` unchanged)."""
        if self.mode == 'empty':
            return without_objects(samples)
        K = len(self.classes)
        # both numbers enter the seed (a torch generator keeps only 32 bits of one)
        rng = np.random.default_rng([self.seed, int(iteration)])
        wrong = []
        for ds in samples:
            labels = ds.gt_instances_3d.labels_3d
            if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < K:
                raise ValueError(f'labels_3d must index the {K} classes {self.classes}, got '
                                 f'{labels.unique().tolist()}')
            # an offset in [1, K): any class but the true one, uniformly
            offset = torch.from_numpy(rng.integers(1, K, tuple(labels.shape))).to(labels)
            gt = ds.gt_instances_3d.clone()  # a new container: the sample's own is not touched
            gt.labels_3d = (labels + offset) % K
            copy = ds.clone()
            copy.gt_instances_3d = gt
            wrong.append(copy)
        return wrong

    def loss(self, student: nn.Module, teacher: nn.Module, retain: Batch, forget: Batch,
             iteration: int) -> Dict[str, Tensor]:
        """``retain_<term>`` and ``forget_<term>``: the head's loss terms on the retain batch and
        on the forget batch with :meth:`targets`."""
        out = retain_detection(student, retain, weight=1.0)
        wrong = self.targets(forget['data_samples'], iteration)
        terms = head_loss_terms(student, forget['inputs'], wrong)
        out.update({f'forget_{name}': value for name, value in terms.items()})
        return out
