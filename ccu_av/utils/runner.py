"""Helpers around a finished mmengine Runner: its dataloader workers and its weights."""
import os
import os.path as osp

import torch
from mmengine.runner import Runner

from .checkpoint import load_checkpoint_file


def release_dataloader_workers(runner: Runner) -> None:
    """Stop the worker processes of a finished runner's dataloaders now.

    With ``persistent_workers`` they live until the garbage collector deletes the loader, and
    torch's shutdown then waits on each worker (measured: 20 s for a trained runner's four): that
    wait would land in whatever step of the job happens to trigger the collection (it landed in
    the CCU step's timing). torch offers no public call for this, so the iterator's own shutdown
    (``_shutdown_workers``, what its ``__del__`` calls) is used.
    """
    for loop_name in ('train_loop', 'val_loop', 'test_loop'):
        loop = getattr(runner, f'_{loop_name}', None)
        loader = getattr(loop, 'dataloader', None)
        iterator = getattr(loader, '_iterator', None)
        if iterator is not None and hasattr(iterator, '_shutdown_workers'):
            iterator._shutdown_workers()
            loader._iterator = None


def export_weights(model: torch.nn.Module, path: str, meta: dict) -> None:
    """Write the model's weights (plain tensors and a plain meta) atomically to ``path``; what
    is written is loaded back with the safe loader before it is renamed into place."""
    state = {k: v.detach().cpu() for k, v in getattr(model, 'module', model).state_dict().items()}
    tmp = f'{path}.tmp{os.getpid()}'
    try:
        torch.save(dict(state_dict=state, meta=meta), tmp)
        load_checkpoint_file(tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
