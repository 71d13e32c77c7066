"""Forget batches drawn in step with the retain batches, in an order that survives ``--resume``.

The train dataloader serves the retain set; each training iteration also takes one batch of the
forget set. The forget batch of iteration ``i`` is a function of ``(seed, i)`` alone: the
forget set is walked through in epochs, epoch ``e`` in the order ``randperm(n, seed + e)``, and
iteration ``i`` takes positions ``[i * batch_size, (i + 1) * batch_size)`` of that stream. A run
resumed at iteration ``i`` therefore draws exactly the batches an uninterrupted run would, with
no replay of the batches before it.
"""
import functools
from typing import Iterator, List, Optional

import torch
from mmengine.registry import FUNCTIONS
from torch.utils.data import DataLoader, Dataset, Sampler

from mmdet3d.registry import DATASETS


class SeededBatchSampler(Sampler):
    """Infinite batch sampler whose batch ``i`` depends only on ``(seed, i)`` (see module doc).

    Args:
        num_samples: size of the dataset.
        batch_size: samples per batch.
        seed: the order's seed.
        start_iter: the iteration of the first batch yielded.
    """

    def __init__(self, num_samples: int, batch_size: int, seed: int, start_iter: int = 0):
        if num_samples <= 0:
            raise ValueError(f'cannot draw batches from an empty dataset (num_samples={num_samples})')
        if batch_size <= 0:
            raise ValueError(f'batch_size must be positive, got {batch_size}')
        self.num_samples, self.batch_size = num_samples, batch_size
        self.seed, self.start_iter = int(seed), int(start_iter)

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed + epoch)
        return torch.randperm(self.num_samples, generator=g)

    def batch_at(self, iteration: int) -> List[int]:
        """The dataset indices of the batch of ``iteration``."""
        n = self.num_samples
        positions = range(iteration * self.batch_size, (iteration + 1) * self.batch_size)
        orders = {}
        indices = []
        for pos in positions:
            epoch = pos // n
            if epoch not in orders:
                orders[epoch] = self._epoch_order(epoch)
            indices.append(int(orders[epoch][pos % n]))
        return indices

    def __iter__(self) -> Iterator[List[int]]:
        iteration = self.start_iter
        while True:
            yield self.batch_at(iteration)
            iteration += 1

    def __len__(self) -> int:  # infinite; DataLoader only needs it for len(), never called here
        raise TypeError('SeededBatchSampler is infinite')


def build_forget_loader(dataloader_cfg: dict, seed: int, start_iter: int = 0,
                        dataset: Optional[Dataset] = None) -> DataLoader:
    """A DataLoader over the forget set whose batch ``i`` is drawn for training iteration ``i``.

    Args:
        dataloader_cfg: ``dict(dataset=..., batch_size=..., num_workers=0, collate_fn=...)`` as
            in an mmengine dataloader config; ``sampler`` is not used (the order is seeded).
        seed: seed of the order.
        start_iter: the training iteration the first batch is for (``runner.iter`` on resume).
        dataset: the built dataset, if already built (else built from ``dataloader_cfg``).
    """
    dataset = dataset if dataset is not None else build_forget_dataset(dataloader_cfg)
    collate_cfg = dict(dataloader_cfg.get('collate_fn', dict(type='pseudo_collate')))
    collate_type = collate_cfg.pop('type')
    collate = FUNCTIONS.get(collate_type) if isinstance(collate_type, str) else collate_type
    if collate is None:
        raise ValueError(f'forget_dataloader collate_fn {collate_type!r} is not registered in FUNCTIONS')
    collate_fn = functools.partial(collate, **collate_cfg)
    sampler = SeededBatchSampler(len(dataset), int(dataloader_cfg.get('batch_size', 1)), seed,
                                 start_iter)
    num_workers = int(dataloader_cfg.get('num_workers', 0))
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_fn,
                      num_workers=num_workers, persistent_workers=num_workers > 0)


def build_forget_dataset(dataloader_cfg: dict) -> Dataset:
    """Build the forget dataset; raise ``ValueError`` if it is missing or empty."""
    if 'dataset' not in dataloader_cfg:
        raise ValueError(f'forget_dataloader needs a "dataset" entry, got keys {sorted(dataloader_cfg)}')
    cfg = dataloader_cfg['dataset']
    dataset = DATASETS.build(cfg) if isinstance(cfg, dict) else cfg
    if len(dataset) == 0:
        name = cfg.get('type') if isinstance(cfg, dict) else type(cfg).__name__
        raise ValueError(f'the forget set is empty (dataset {name}): nothing to unlearn; check '
                         'the takedown selection (sample_tokens / scenes of the forget dataset)')
    return dataset

