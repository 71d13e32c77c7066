"""ccu_av.utils.checkpoint: safe loading under torch >= 2.6 and atomic mmengine writes."""
import argparse
import logging
import os

import numpy as np
import pytest
import torch
from mmengine.fileio import dump
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner, load_checkpoint
from torch import nn
from torch.utils.data import Dataset

import ccu_av  # noqa: F401  (installs the mmengine overrides)
from ccu_av.utils import CheckpointError, load_checkpoint_file


def test_plain_checkpoint_round_trips(tmp_path):
    path = tmp_path / 'plain.pth'
    state = {'state_dict': {'w': torch.arange(6.).reshape(2, 3)}, 'meta': {'epoch': 3, 'cfg': 'x=1'}}
    torch.save(state, path)
    loaded = load_checkpoint_file(path)
    assert torch.equal(loaded['state_dict']['w'], state['state_dict']['w'])
    assert loaded['meta'] == {'epoch': 3, 'cfg': 'x=1'}


def test_mmengine_message_hub_objects_are_allowed(tmp_path):
    path = tmp_path / 'hub.pth'
    buf = HistoryBuffer()
    buf.update(1.5)
    buf.update(2.5)
    torch.save({'meta': {'buffer': buf, 'arr': np.arange(4, dtype=np.int64),
                         'scalar': np.float64(0.25)}}, path)
    loaded = load_checkpoint_file(path)['meta']
    assert loaded['buffer'].mean() == pytest.approx(2.0)
    assert loaded['arr'].tolist() == [0, 1, 2, 3]
    assert loaded['scalar'] == 0.25


def test_checkpoint_needing_arbitrary_code_is_refused(tmp_path):
    path = tmp_path / 'unsafe.pth'
    torch.save({'meta': argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(CheckpointError, match=f'refusing to load checkpoint {path}'):
        load_checkpoint_file(path)


class _WritesAMarker:
    """Unpickling this would run os.system and write a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def test_a_code_running_pickle_does_not_run_and_random_bytes_are_no_checkpoint(tmp_path):
    marker = tmp_path / 'ran'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': _WritesAMarker(marker)}, path)
    with pytest.raises(CheckpointError, match=r'could run arbitrary code \(.*GLOBAL (posix|os)\.system'):
        load_checkpoint_file(path)
    assert not marker.exists()
    # bytes that are no checkpoint are told from a checkpoint holding disallowed objects
    noise = tmp_path / 'noise.pth'
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(CheckpointError, match='noise.pth is not a readable torch checkpoint') as info:
        load_checkpoint_file(noise)
    assert 'arbitrary code' not in str(info.value)


def test_missing_and_truncated_checkpoints_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match='nothere.pth does not exist'):
        load_checkpoint_file(tmp_path / 'nothere.pth')
    path = tmp_path / 'cut.pth'
    torch.save({'w': torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CheckpointError, match='cut.pth is not a readable torch checkpoint'):
        load_checkpoint_file(path)


def test_mmengine_load_checkpoint_goes_through_the_safe_loader(tmp_path):
    path = tmp_path / 'unsafe.pth'
    torch.save({'state_dict': {'weight': torch.ones(1, 1)}, 'meta': argparse.Namespace()}, path)
    with pytest.raises(CheckpointError, match='refusing to load'):
        load_checkpoint(nn.Linear(1, 1, bias=False), str(path))


def test_mmengine_dump_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / 'result.json'
    dump({'a': 1}, str(target))
    assert target.read_text() == '{"a": 1}'
    assert target.stat().st_mode & 0o777 == 0o666 & ~_current_umask()

    def broken_fsync(fd):
        raise OSError('disk went away')

    monkeypatch.setattr(os, 'fsync', broken_fsync)
    with pytest.raises(OSError, match='disk went away'):
        dump({'a': 2}, str(target))
    assert target.read_text() == '{"a": 1}'  # the complete old file is still there
    assert sorted(p.name for p in tmp_path.iterdir()) == ['result.json']  # no temporary left


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _ToyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='tensor'):
        pred = self.linear(torch.stack(inputs))
        if mode == 'loss':
            return {'loss': ((pred.squeeze(1) - torch.stack(labels)) ** 2).mean()}
        return pred


class _ToyData(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, idx):
        x = torch.tensor([float(idx), 1.0])
        return {'inputs': x, 'labels': 2 * x[0] - 1}


def _runner(work_dir, max_iters, resume=False):
    return Runner(
        model=_ToyModel(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=_ToyData(), sampler=dict(type='DefaultSampler', shuffle=True),
                              batch_size=2, num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=100)),
        randomness=dict(seed=0), resume=resume, log_level=logging.WARNING)


def test_runner_checkpoints_resume_under_safe_loading(tmp_path):
    """A real mmengine Runner's checkpoint (message hub, optimizer) resumes with weights_only."""
    _runner(tmp_path, max_iters=2).train()
    ckpt = load_checkpoint_file(tmp_path / 'iter_2.pth')
    assert ckpt['meta']['iter'] == 2
    resumed = _runner(tmp_path, max_iters=4, resume=True)
    resumed.train()
    assert resumed.iter == 4
    assert load_checkpoint_file(tmp_path / 'iter_4.pth')['meta']['iter'] == 4
