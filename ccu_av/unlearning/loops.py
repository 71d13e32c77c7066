"""The unlearning budget in passes over the forget set (``ForgetPassTrainLoop``).

A fixed number of iterations unlearns a small forget set many times over and a large one barely:
60 iterations of 4 forget samples are 10 passes over a private site's 24 samples and half a pass
over a whole location's 480 (``docs/results.md``, session 10). The pressure on each flagged
sample then depends on how many others were flagged with it. This loop sets the run's length
from the forget set instead: ``forget_passes`` passes over it, at most ``max_iters`` iterations
(the time bound; a forget set larger than ``max_iters`` iterations' worth gets fewer passes).

mmengine's ``IterBasedTrainLoop`` takes its length as a number; nothing in mmengine derives it
from a dataset's part, so the loop is written here, and only computes ``max_iters`` before
running mmengine's loop unchanged.
"""
import math
from typing import Optional

from mmengine.logging import print_log
from mmengine.registry import LOOPS
from mmengine.runner import IterBasedTrainLoop

from .paired_data import PairedDataset


def forget_pass_iters(num_forget: int, forget_per_iter: int, forget_passes: float, max_iters: int,
                      min_iters: int = 1) -> int:
    """``ceil(forget_passes * num_forget / forget_per_iter)`` iterations, clipped to
    ``[min(min_iters, max_iters), max_iters]``.

    Args:
        num_forget: samples in the forget set.
        forget_per_iter: forget samples one iteration reads over all processes.
        forget_passes: passes over the forget set (> 0).
        max_iters: the time bound (>= 0; 0 trains nothing, as SSD's config asks).
        min_iters: the fewest iterations, however small the forget set.
    """
    if forget_passes <= 0:
        raise ValueError(f'train_cfg.forget_passes must be positive, got {forget_passes}')
    if max_iters < 0 or min_iters < 0:
        raise ValueError(f'train_cfg.max_iters and min_iters must be >= 0, got {max_iters} and {min_iters}')
    if forget_per_iter <= 0:
        raise ValueError(f'forget samples per iteration must be positive, got {forget_per_iter}')
    wanted = math.ceil(forget_passes * num_forget / forget_per_iter - 1e-9)  # 4.25 x 56 / 4 is 60, not 61
    return min(max_iters, max(min_iters, wanted))


@LOOPS.register_module()
class ForgetPassTrainLoop(IterBasedTrainLoop):
    """mmengine's iteration loop, its length ``forget_passes`` passes over the forget set.

    A pass is ``num_forget / (forget batch x world size)`` iterations: the forget batch is the
    ``PairedBatchSampler``'s ``forget_batch_size``, or the retain batch size for a method whose
    batches carry no forget samples (fine-tuning on retain), so that every method of a takedown
    gets the same number of iterations.

    Args:
        runner, dataloader: as mmengine's ``IterBasedTrainLoop`` (the dataset a
            :class:`PairedDataset`).
        forget_passes: passes over the forget set.
        max_iters: the most iterations (the time bound).
        min_iters: the fewest iterations.
        **kwargs: the rest of ``IterBasedTrainLoop``'s arguments (``val_interval``, ...).
    """

    def __init__(self, runner, dataloader, forget_passes: float, max_iters: int,
                 min_iters: int = 1, **kwargs):
        super().__init__(runner, dataloader, max_iters=max_iters, **kwargs)
        dataset = self.dataloader.dataset
        if not isinstance(dataset, PairedDataset):
            raise TypeError('ForgetPassTrainLoop needs the train dataloader\'s dataset to be a PairedDataset '
                            f'(e.g. UnlearningDataset), got {type(dataset).__name__}')
        per_iter = _forget_batch_size(self.dataloader) * runner.world_size
        self._max_iters = forget_pass_iters(dataset.num_forget, per_iter, forget_passes, max_iters, min_iters)
        self.forget_passes = self._max_iters * per_iter / max(dataset.num_forget, 1)
        capped = ' (capped by train_cfg.max_iters)' if self.forget_passes < forget_passes - 1e-9 else ''
        print_log(f'unlearning budget: {self._max_iters} iterations, {self.forget_passes:.2f} passes over '
                  f'{dataset.num_forget} forget samples{capped}', logger='current')


def _forget_batch_size(dataloader) -> int:
    """Forget samples per iteration and process: the batch sampler's ``forget_batch_size``, else
    (none, or 0 for a method that reads no forget samples) the retain batch size."""
    sampler = getattr(dataloader, 'batch_sampler', None)
    forget: Optional[int] = getattr(sampler, 'forget_batch_size', None)
    return int(forget) if forget else int(getattr(sampler, 'batch_size', None) or dataloader.batch_size)
