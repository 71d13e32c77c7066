"""Forget and retain batches that arrive together through one mmengine dataloader.

:class:`PairedDataset` holds a retain and a forget set (:class:`UnlearningDataset`: those of a
takedown, selected from the training info file by the takedown request); its indices ``[0, R)`` are the retain samples and
``[R, R + F)`` the forget samples, and its length is ``R``, so the loader's sampler
(``InfiniteSampler``, shuffled) walks the retain set. :class:`PairedBatchSampler` adds to the
retain batch of iteration ``i`` the forget batch of ``i``, and :func:`paired_collate` splits the
two into ``dict(retain=..., forget=...)``.

The forget batch of iteration ``i`` is a function of ``(seed, i)`` (and the process's rank)
alone: the forget set is walked through in epochs, epoch ``e`` in the order
``randperm(F, seed + e)``, and process ``r`` of ``W`` takes at iteration ``i`` the positions
``[(i * W + r) * b, (i * W + r + 1) * b)`` of that stream (``b`` the forget batch size). mmengine
resumes an iteration-based run by advancing the dataloader ``i`` steps, so a resumed run draws
exactly the batches an uninterrupted one does.
"""
import os.path as osp
from typing import Iterator, List, Optional, Sequence, Union

import torch
from mmengine.dataset import pseudo_collate
from mmengine.dist import get_dist_info
from mmengine.registry import FUNCTIONS
from torch.utils.data import Dataset, Sampler

from mmdet3d.registry import DATA_SAMPLERS, DATASETS

from ..datasets.takedown_selection import TakedownRequest, records_from_info_file, select_takedown

SET_KEY = 'unlearning_set'  # the key that tags each sample as 'retain' or 'forget'


class SeededBatchSampler(Sampler):
    """Infinite batch sampler whose batch ``i`` depends only on ``(seed, i)`` (see module doc).

    Args:
        num_samples: size of the dataset.
        batch_size: samples per batch.
        seed: the order's seed.
    """

    def __init__(self, num_samples: int, batch_size: int, seed: int):
        if num_samples <= 0:
            raise ValueError(f'cannot draw batches from an empty dataset (num_samples={num_samples})')
        if batch_size <= 0:
            raise ValueError(f'batch_size must be positive, got {batch_size}')
        self.num_samples, self.batch_size, self.seed = num_samples, batch_size, int(seed)

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed + epoch)
        return torch.randperm(self.num_samples, generator=g)

    def batch_at(self, index: int) -> List[int]:
        """The dataset indices of batch ``index`` of the stream."""
        n = self.num_samples
        orders = {}
        indices = []
        for pos in range(index * self.batch_size, (index + 1) * self.batch_size):
            epoch = pos // n
            if epoch not in orders:
                orders[epoch] = self._epoch_order(epoch)
            indices.append(int(orders[epoch][pos % n]))
        return indices

    def __iter__(self) -> Iterator[List[int]]:
        index = 0
        while True:
            yield self.batch_at(index)
            index += 1


@DATASETS.register_module()
class PairedDataset(Dataset):
    """A retain and a forget set served through one sampler (see module doc).

    Args:
        retain: the retain dataset, or its config.
        forget: the forget dataset, or its config.
        holdout: samples the model never trained on, or their config (built when a pre-pass
            first reads them: :func:`holdout_batches`); never served by the sampler. ``None``:
            none.
    """

    def __init__(self, retain: Union[Dataset, dict], forget: Union[Dataset, dict],
                 holdout: Union[Dataset, dict, None] = None):
        self.retain = DATASETS.build(retain) if isinstance(retain, dict) else retain
        self.forget = DATASETS.build(forget) if isinstance(forget, dict) else forget
        self.holdout = holdout
        if len(self.forget) == 0:
            raise ValueError('the forget set is empty: nothing to unlearn; check the takedown selection')
        if len(self.retain) == 0:
            raise ValueError('the retain set is empty: nothing to keep; check the takedown selection')

    @property
    def metainfo(self) -> dict:
        return self.retain.metainfo

    @property
    def num_retain(self) -> int:
        return len(self.retain)

    @property
    def num_forget(self) -> int:
        return len(self.forget)

    def __len__(self) -> int:
        return len(self.retain)

    def __getitem__(self, idx: int) -> dict:
        if idx < len(self.retain):
            return dict(self.retain[idx], **{SET_KEY: 'retain'})
        return dict(self.forget[idx - len(self.retain)], **{SET_KEY: 'forget'})


@DATASETS.register_module()
class UnlearningDataset(PairedDataset):
    """The retain and forget sets of a takedown over one training dataset.

    Args:
        dataset: config of the training dataset (``CamRadarNuScenesDataset`` or any dataset
            taking ``sample_tokens``, with ``data_root`` and ``ann_file``); built once for each set.
        takedown: the takedown request: a dict of :class:`TakedownRequest` fields, or the path of
            a YAML/JSON request file.
        holdout_ann_file: the info file of held-out samples (the validation split), relative to
            ``data_root`` like ``ann_file``, for an objective whose pre-pass reads samples the
            model never trained on (``prepass_reads_holdout``): those of the locations the
            takedown flags, or all of them where it has none of those locations. Read through the
            training dataset's settings and pipeline, so that they are measured as the forget
            samples are. ``None``: no held-out samples.
    """

    def __init__(self, dataset: dict, takedown: Union[dict, str], holdout_ann_file: Optional[str] = None):
        self.request = TakedownRequest.coerce(takedown)
        info_file = info_file_of(dataset)
        train = records_from_info_file(info_file)
        self.selection = select_takedown(train, self.request, source=info_file)
        holdout = None
        if holdout_ann_file is not None:
            held = records_from_info_file(info_file_of(dict(dataset, ann_file=holdout_ann_file)))
            forget = set(self.selection.forget_tokens)
            flagged = {r['location'] for r in train if r['token'] in forget}
            same = [r['token'] for r in held if r['location'] in flagged]
            holdout = dict(dataset, ann_file=holdout_ann_file, sample_tokens=same or [r['token'] for r in held])
            # a fleet run erases earlier takedowns' training cameras; none of them is held out
            holdout.pop('camera_erased_tokens', None)
        super().__init__(retain=dict(dataset, sample_tokens=list(self.selection.retain_tokens)),
                         forget=dict(dataset, sample_tokens=list(self.selection.forget_tokens)), holdout=holdout)


def info_file_of(dataset_cfg: dict) -> str:
    """The info file a dataset config reads: ``ann_file``, joined with ``data_root`` unless
    absolute (as mmengine's ``BaseDataset`` joins them)."""
    missing = [key for key in ('ann_file', 'data_root') if key not in dataset_cfg]
    if missing:
        raise ValueError(f'UnlearningDataset: the training dataset config needs {missing}; '
                         f'got keys {sorted(dataset_cfg)}')
    ann_file = dataset_cfg['ann_file']
    return ann_file if osp.isabs(ann_file) else osp.join(dataset_cfg['data_root'], ann_file)


@DATA_SAMPLERS.register_module()
class PairedBatchSampler(Sampler):
    """Retain batches from ``sampler``, each followed by the forget batch of its iteration.

    Args:
        sampler: over the retain indices of a :class:`PairedDataset` (mmengine passes the
            dataloader's sampler).
        batch_size: retain samples per batch (mmengine passes the dataloader's).
        forget_batch_size: forget samples per batch; ``None``: ``batch_size``; 0: none (for
            objectives that never read the forget set).
        seed: seed of the forget order.
    """

    def __init__(self, sampler: Sampler, batch_size: int, forget_batch_size: Optional[int] = None,
                 seed: int = 0):
        dataset = getattr(sampler, 'dataset', None)
        if not isinstance(dataset, PairedDataset):
            raise TypeError('PairedBatchSampler needs the dataloader dataset to be a PairedDataset '
                            f'(e.g. UnlearningDataset), got {type(dataset).__name__}')
        if batch_size <= 0:
            raise ValueError(f'batch_size must be positive, got {batch_size}')
        self.sampler, self.batch_size = sampler, int(batch_size)
        self.forget_batch_size = self.batch_size if forget_batch_size is None else int(forget_batch_size)
        if self.forget_batch_size < 0:
            raise ValueError(f'forget_batch_size must be >= 0, got {forget_batch_size}')
        self.offset = dataset.num_retain
        self.rank, self.world_size = get_dist_info()
        self.forget_order = SeededBatchSampler(
            dataset.num_forget, self.forget_batch_size, seed) if self.forget_batch_size else None

    def forget_batch(self, iteration: int) -> List[int]:
        """Dataset indices of this process's forget batch of ``iteration``."""
        if self.forget_order is None:
            return []
        index = iteration * self.world_size + self.rank
        return [self.offset + i for i in self.forget_order.batch_at(index)]

    def __iter__(self) -> Iterator[List[int]]:
        retain, iteration = [], 0
        for idx in self.sampler:
            retain.append(idx)
            if len(retain) == self.batch_size:
                yield retain + self.forget_batch(iteration)
                retain, iteration = [], iteration + 1
        if retain:
            yield retain + self.forget_batch(iteration)

    def __len__(self) -> int:
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size


@FUNCTIONS.register_module()
def paired_collate(data_batch: Sequence[dict]) -> dict:
    """``dict(retain=..., forget=...)``, each as mmengine's ``pseudo_collate`` makes it
    (``forget`` is None for a batch without forget samples)."""
    parts = {'retain': [], 'forget': []}
    for item in data_batch:
        item = dict(item)
        parts[item.pop(SET_KEY)].append(item)
    if not parts['retain']:
        raise ValueError('paired_collate: a batch without retain samples')
    return {name: pseudo_collate(items) if items else None for name, items in parts.items()}


def forget_batches(dataset: PairedDataset, batch_size: int) -> Iterator[dict]:
    """Every forget sample once, in order, collated in batches (for an objective's pre-pass)."""
    return _batches(dataset.forget, range(len(dataset.forget)), batch_size)


def retain_batches(dataset: PairedDataset, batch_size: int,
                   num_samples: Optional[int] = None) -> Iterator[dict]:
    """Retain samples once, in order, collated in batches (for a pre-pass that reads the retain
    set): all of them, or ``num_samples`` evenly spaced over the whole set."""
    return _batches(dataset.retain, _evenly_spaced(len(dataset.retain), num_samples), batch_size)


def holdout_batches(dataset: PairedDataset, batch_size: int,
                    num_samples: Optional[int] = None) -> Iterator[dict]:
    """Held-out samples once, in order, collated in batches (for a pre-pass that reads samples
    the model never trained on): all of the dataset's held-out samples
    (:class:`UnlearningDataset`'s ``holdout_ann_file``), or ``num_samples`` evenly spaced."""
    if dataset.holdout is None:
        raise ValueError(f'{type(dataset).__name__} has no held-out samples: give the training '
                         'dataset (UnlearningDataset) holdout_ann_file, the validation info file')
    if isinstance(dataset.holdout, dict):
        dataset.holdout = DATASETS.build(dataset.holdout)
    return _batches(dataset.holdout, _evenly_spaced(len(dataset.holdout), num_samples), batch_size)


def _evenly_spaced(total: int, num_samples: Optional[int]) -> Sequence[int]:
    """All of ``range(total)``, or ``num_samples`` indices evenly spaced over it."""
    if num_samples is not None and num_samples <= 0:
        raise ValueError(f'num_samples must be positive, got {num_samples}')
    if num_samples is None or num_samples >= total:
        return range(total)
    return [i * total // num_samples for i in range(num_samples)]


def _batches(samples: Dataset, indices: Sequence[int], batch_size: int) -> Iterator[dict]:
    indices = list(indices)
    for start in range(0, len(indices), batch_size):
        yield pseudo_collate([samples[i] for i in indices[start:start + batch_size]])
