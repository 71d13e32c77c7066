"""Forget batches whose order depends only on (seed, iteration)."""
import itertools

import pytest
import torch

from ccu_av.unlearning.paired_loader import (SeededBatchSampler, build_forget_dataset,
                                             build_forget_loader)
from tiny_ccu_model import ToyBEVDataset


def first(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_every_epoch_is_a_permutation_and_epochs_differ():
    stream = sum(first(SeededBatchSampler(5, 2, seed=3), 10), [])  # 4 epochs of 5
    epochs = [stream[i:i + 5] for i in range(0, 20, 5)]
    assert all(sorted(e) == list(range(5)) for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1


def test_a_sampler_started_later_yields_the_same_batches():
    full = first(SeededBatchSampler(7, 3, seed=11), 9)
    resumed = first(SeededBatchSampler(7, 3, seed=11, start_iter=4), 5)
    assert resumed == full[4:]
    assert first(SeededBatchSampler(7, 3, seed=12), 9) != full


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match='empty dataset'):
        SeededBatchSampler(0, 2, seed=0)
    with pytest.raises(ValueError, match='batch_size'):
        SeededBatchSampler(4, 0, seed=0)


def test_loader_collates_the_seeded_batches():
    dataset = ToyBEVDataset(locations=(0,), num_samples=5, seed=1)
    loader = build_forget_loader(dict(dataset=dataset, batch_size=2), seed=4, start_iter=2)
    batch = next(iter(loader))
    expected = SeededBatchSampler(5, 2, seed=4).batch_at(2)
    assert [ds.sample_idx for ds in batch['data_samples']] == expected
    assert torch.equal(batch['inputs']['cam'][0], dataset[expected[0]]['inputs']['cam'])


def test_empty_forget_set_and_bad_configs_are_named():
    with pytest.raises(ValueError, match='forget set is empty'):
        build_forget_dataset(dict(dataset=ToyBEVDataset(locations=(0,), num_samples=0, seed=1)))
    with pytest.raises(ValueError, match='"dataset"'):
        build_forget_dataset(dict(batch_size=2))
    with pytest.raises(ValueError, match='not_a_collate'):
        build_forget_loader(dict(dataset=ToyBEVDataset(locations=(0,), num_samples=2, seed=1),
                                 collate_fn=dict(type='not_a_collate')), seed=0)
