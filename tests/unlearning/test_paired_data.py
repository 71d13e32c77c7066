"""Paired forget/retain batches: the forget order depends only on (seed, iteration, rank)."""
import itertools
from unittest import mock

import pytest
import torch
from mmengine.dataset import InfiniteSampler
from mmengine.runner import Runner

from ccu_av.unlearning import PairedBatchSampler, PairedDataset, SeededBatchSampler, paired_collate
from ccu_av.unlearning.paired_data import forget_batches
from tiny_ccu_model import ToyBEVDataset


def first(sampler, n):
    return list(itertools.islice(iter(sampler), n))


@pytest.fixture
def paired():
    return PairedDataset(ToyBEVDataset(locations=(1,), num_samples=7, seed=2),
                         ToyBEVDataset(locations=(0,), num_samples=5, seed=1))


def test_every_epoch_is_a_permutation_and_epochs_differ():
    stream = sum(first(SeededBatchSampler(5, 2, seed=3), 10), [])  # 4 epochs of 5
    epochs = [stream[i:i + 5] for i in range(0, 20, 5)]
    assert all(sorted(e) == list(range(5)) for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1
    assert first(SeededBatchSampler(5, 2, seed=4), 10) != first(SeededBatchSampler(5, 2, seed=3), 10)


def test_bad_sizes_are_refused(paired):
    with pytest.raises(ValueError, match='empty dataset'):
        SeededBatchSampler(0, 2, seed=0)
    with pytest.raises(ValueError, match='batch_size'):
        SeededBatchSampler(4, 0, seed=0)
    with pytest.raises(ValueError, match='forget_batch_size'):
        PairedBatchSampler(InfiniteSampler(paired, seed=0), 2, forget_batch_size=-1)
    with pytest.raises(TypeError, match='PairedDataset'):
        PairedBatchSampler(InfiniteSampler(ToyBEVDataset((0,), 3, 0), seed=0), 2)
    with pytest.raises(ValueError, match='forget set is empty'):
        PairedDataset(paired.retain, ToyBEVDataset(locations=(0,), num_samples=0, seed=1))


def test_each_batch_is_the_retain_batch_then_the_seeded_forget_batch_of_its_iteration(paired):
    retain_order = InfiniteSampler(paired, shuffle=True, seed=3)
    batches = first(PairedBatchSampler(retain_order, 3, forget_batch_size=2, seed=4), 6)
    plain = list(itertools.islice(iter(InfiniteSampler(paired, shuffle=True, seed=3)), 18))
    forget_order = SeededBatchSampler(5, 2, seed=4)
    for i, batch in enumerate(batches):
        assert batch[:3] == plain[3 * i:3 * i + 3]  # the retain sampler's own batches
        assert batch[3:] == [7 + j for j in forget_order.batch_at(i)]  # forget indices follow R


def test_processes_draw_distinct_forget_batches_that_interleave_the_single_process_stream(paired):
    single = SeededBatchSampler(5, 2, seed=0)
    per_rank = []
    for rank in range(2):
        with mock.patch('ccu_av.unlearning.paired_data.get_dist_info', return_value=(rank, 2)):
            sampler = PairedBatchSampler(InfiniteSampler(paired, seed=0), 1, forget_batch_size=2)
        per_rank.append([sampler.forget_batch(i) for i in range(3)])
    for i in range(3):
        assert per_rank[0][i] == [7 + j for j in single.batch_at(2 * i)]
        assert per_rank[1][i] == [7 + j for j in single.batch_at(2 * i + 1)]


def test_forget_batch_size_zero_serves_retain_alone(paired):
    batches = first(PairedBatchSampler(InfiniteSampler(paired, seed=0), 2, forget_batch_size=0), 4)
    assert all(len(b) == 2 and max(b) < 7 for b in batches)


def test_collate_splits_the_sets_and_a_runner_loader_serves_pairs(paired):
    loader = Runner.build_dataloader(dict(
        dataset=paired, batch_size=2, num_workers=0,
        sampler=dict(type='InfiniteSampler', shuffle=False),
        batch_sampler=dict(type='PairedBatchSampler', forget_batch_size=3, seed=5),
        collate_fn=dict(type='paired_collate')), seed=0)
    batch = next(iter(loader))
    assert [ds.sample_idx for ds in batch['retain']['data_samples']] == [0, 1]
    assert [ds.sample_idx for ds in batch['forget']['data_samples']] == SeededBatchSampler(5, 3, 5).batch_at(0)
    assert torch.equal(batch['forget']['inputs']['cam'][0],
                       paired.forget[SeededBatchSampler(5, 3, 5).batch_at(0)[0]]['inputs']['cam'])
    assert paired_collate([paired[0]])['forget'] is None
    with pytest.raises(ValueError, match='without retain samples'):
        paired_collate([paired[7]])


def test_forget_batches_read_every_forget_sample_once_in_order(paired):
    batches = list(forget_batches(paired, batch_size=2))
    assert [len(b['data_samples']) for b in batches] == [2, 2, 1]
    assert [ds.sample_idx for b in batches for ds in b['data_samples']] == list(range(5))
