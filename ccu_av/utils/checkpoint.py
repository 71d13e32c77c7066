"""Safe checkpoint loading under torch >= 2.6, and atomic writes of mmengine outputs.

torch >= 2.6 loads with ``weights_only=True`` by default, which refuses any pickled class that is not
on its allow-list. mmengine 0.10.7 checkpoints hold a few such objects: numpy arrays and scalars,
and the message hub's ``HistoryBuffer``, whose own pickled state carries references to functions
(its statistics methods, pickled through ``builtins.getattr``), which no safe loader may accept.
Switching safe loading off would let a checkpoint run arbitrary code, so instead:

* numpy arrays, dtypes and scalars are allowed;
* ``HistoryBuffer`` is pickled through :func:`rebuild_history_buffer` (registered with
  :mod:`copyreg`), which holds only its numbers, and that function is allowed;
* every other class or function is refused with an error naming the file.

Importing :mod:`ccu_av` installs two small overrides into mmengine (nothing else in mmengine
offers them):

* ``HistoryBuffer`` pickles through :func:`rebuild_history_buffer` (see above);
* its loader for local checkpoint files loads through :func:`load_checkpoint_file`;
* its local file backend writes every file (checkpoints, dumped results) to a temporary name
  and renames it into place when complete, so an interrupted write never leaves a truncated file
  under the final name.
"""
import copyreg
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from mmengine.fileio import io as mmengine_io
from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


def rebuild_history_buffer(max_length: int, log_history: np.ndarray,
                           count_history: np.ndarray) -> HistoryBuffer:
    """Rebuild a message-hub ``HistoryBuffer`` from its numbers (its pickled form in ccu_av)."""
    return HistoryBuffer(log_history.tolist(), count_history.tolist(), max_length)


def _reduce_history_buffer(buf: HistoryBuffer):
    return rebuild_history_buffer, (buf.max_length, buf._log_history, buf._count_history)


# Globals an mmengine checkpoint written by ccu_av may hold besides tensors and plain containers.
MMENGINE_SAFE_GLOBALS = [
    rebuild_history_buffer,
    np.ndarray,
    np.dtype,
    np.core.multiarray._reconstruct,
    np.core.multiarray.scalar,
    *{type(np.dtype(t)) for t in ('float64', 'float32', 'int64', 'int32', 'bool')},
]


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be used: missing, not a checkpoint, or unsafe to load."""


def load_checkpoint_file(path: Union[str, os.PathLike], map_location: Any = 'cpu') -> Any:
    """Load a checkpoint with ``weights_only=True``; refuse anything needing arbitrary code.

    Args:
        path: the checkpoint file.
        map_location: as for :func:`torch.load`.

    Raises:
        CheckpointError: the file is missing, is not a torch checkpoint, or holds objects
            whose unpickling would run code outside the allow-list.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'checkpoint {path} does not exist or is not a file')
    with torch.serialization.safe_globals(MMENGINE_SAFE_GLOBALS):
        try:
            return torch.load(path, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as err:
            # torch names a refused class or function "GLOBAL module.name"; any other unpickling
            # failure is bytes that are no checkpoint (random, damaged, another pickle dialect)
            refused = [line.strip() for line in str(err).splitlines() if 'GLOBAL' in line]
            if not refused:
                raise CheckpointError(
                    f'{path} is not a readable torch checkpoint (damaged, or not a checkpoint at all): '
                    f'{_unpickling_detail(err)}') from err
            detail = refused[0]
            raise CheckpointError(
                f'refusing to load checkpoint {path}: it holds objects whose unpickling could run '
                f'arbitrary code ({detail}). ccu_av loads only tensors, plain Python values and '
                'the mmengine/numpy classes it writes itself; re-save the checkpoint with plain '
                'types, or load it only if you trust its source.') from err
        except (EOFError, zipfile.BadZipFile, RuntimeError) as err:
            raise CheckpointError(
                f'{path} is not a readable torch checkpoint (truncated or another format): {err}'
            ) from err


def _unpickling_detail(err: BaseException) -> str:
    """The line of torch's long unpickling message that says what it found."""
    lines = [line.strip() for line in str(err).splitlines() if 'Unsupported' in line or 'load key' in line]
    return lines[0] if lines else type(err).__name__


def _load_from_local(filename: str, map_location: Any = None) -> Any:
    filename = os.path.expanduser(filename)
    return load_checkpoint_file(filename, map_location=map_location)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes are atomic (temporary name, then rename)."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write(filepath, obj.encode(encoding))


def atomic_write(path: Union[str, os.PathLike], data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place.

    A reader never sees a half-written file, and a failed write leaves the old one intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, path)
        _fsync_dir(path.parent)  # the rename itself survives a power loss
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def install_mmengine_overrides() -> None:
    """Route mmengine's checkpoint pickling, local loading and local writes through this module."""
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    CheckpointLoader.register_scheme(prefixes='', force=True)(_load_from_local)
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    # Drop cached instances of the plain backend (mmengine reuses them when asked to).
    for key, backend in list(mmengine_io.backend_instances.items()):
        if type(backend) is LocalBackend:
            del mmengine_io.backend_instances[key]
