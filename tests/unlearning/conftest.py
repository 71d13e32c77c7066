"""Fixtures of the unlearning tests: the toy BEV world, a pretrained tiny detector, its checkpoint.

The tiny detector and datasets live in ``tiny_ccu_model`` (importable from every test below this
folder once this conftest has run).
"""
import pytest
import torch

from tiny_ccu_model import ToyBEVDataset, TinyCamRadar, pretrain


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one thread is faster than several on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def toy_sets():
    """forget (location 0) and retain (locations 1 and 2) datasets."""
    return dict(forget=ToyBEVDataset(locations=(0,), num_samples=6, seed=1),
                retain=ToyBEVDataset(locations=(1, 2), num_samples=12, seed=2))


@pytest.fixture(scope='session')
def original_state(toy_sets):
    """State dict of a tiny detector pretrained on all locations (forget and retain)."""
    torch.manual_seed(0)
    model = TinyCamRadar()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pretrain(model, [toy_sets['forget'], toy_sets['retain']], steps=150)
    torch.set_num_threads(threads)
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture
def original_model(original_state):
    model = TinyCamRadar()
    model.load_state_dict(original_state)
    return model


@pytest.fixture
def original_ckpt(tmp_path, original_state):
    """The original model as an mmengine-style checkpoint file outside any work dir."""
    path = tmp_path / 'original' / 'original.pth'
    path.parent.mkdir()
    torch.save(dict(state_dict=original_state, meta=dict()), path)
    return path
