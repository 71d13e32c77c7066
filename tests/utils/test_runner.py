"""Runner helpers: releasing a finished runner's dataloader workers."""
from types import SimpleNamespace

from torch.utils.data import DataLoader

from ccu_av.utils import release_dataloader_workers


def test_persistent_workers_of_a_finished_runner_are_stopped_at_once():
    loader = DataLoader(list(range(8)), batch_size=2, num_workers=2, persistent_workers=True)
    assert [len(b) for b in loader] == [2, 2, 2, 2]
    workers = list(loader._iterator._workers)
    assert all(w.is_alive() for w in workers)  # persistent: alive after the epoch
    runner = SimpleNamespace(_train_loop=SimpleNamespace(dataloader=loader),
                             _val_loop=dict(type='ValLoop'),  # never built: left alone
                             _test_loop=None)
    release_dataloader_workers(runner)
    assert loader._iterator is None
    assert not any(w.is_alive() for w in workers)
    assert [len(b) for b in loader] == [2, 2, 2, 2]  # the loader still works (new workers)
    release_dataloader_workers(runner)
