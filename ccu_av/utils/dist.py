"""Process groups and rank-aware helpers for multi-process runs (torchrun, Slurm, MPI).

Launching: :func:`check_launcher` refuses a launcher whose environment is missing (before any
config is read), :func:`init_launcher` initialises the process group and
:func:`configure_runner` tells an mmengine Runner config about it. On a CPU-only torch only
``pytorch`` (torchrun) is supported, through ``gloo`` (:func:`setup_cpu_distributed`): mmengine's
own ``pytorch`` path calls ``torch.cuda.set_device`` and wraps DDP with ``device_ids``, both of
which fail without CUDA. With CUDA, mmengine's launchers are used as they are, with ``nccl``.

Collective helpers, each a plain call in a single process:

- :func:`run_on_rank_zero`: a function on rank 0 alone while the others wait; its result, or
  its error, on every rank (so a refusal on rank 0 stops every rank with the same message);
- :func:`run_sharded`: a per-item computation split over the ranks (:func:`shard`: contiguous,
  balanced, no padding), gathered on every rank with each item exactly once;
- :func:`rank_and_world`: the rank and world size these helpers use; inside
  :func:`this_process_only` (and so inside :func:`run_on_rank_zero`) a world of one, so that code
  run on rank 0 alone issues no collective the other ranks would have to join.
"""
import contextlib
import importlib
import os
from typing import Any, Callable, Dict, Hashable, Iterator, List, Mapping, Sequence, Tuple, TypeVar

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.dist import all_gather_object, broadcast_object_list, get_dist_info, init_dist

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
# the variables each launcher reads (mmengine.dist.utils: _init_dist_pytorch, _slurm, _mpi)
LAUNCHER_ENV = {
    'pytorch': ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'),
    'slurm': ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST'),
    'mpi': ('OMPI_COMM_WORLD_LOCAL_RANK', 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'MASTER_ADDR'),
}
START_HINT = {
    'pytorch': 'start it with torchrun (tools/dist_unlearn.sh, tools/dist_train.sh)',
    'slurm': 'start it with srun (tools/slurm_unlearn.sh)',
    'mpi': 'start it with mpirun (Open MPI)',
}

K = TypeVar('K', bound=Hashable)
T = TypeVar('T')

_local_depth = 0  # > 0 inside this_process_only()


def check_launcher(launcher: str) -> None:
    """Refuse a launcher this process cannot use, before anything is read or written.

    Raises:
        ValueError: an unknown launcher; ``slurm`` or ``mpi`` on a torch without CUDA; the
            launcher's environment variables are missing (the process was not started by it).
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f'--launcher must be one of {LAUNCHERS}, got {launcher!r}')
    if launcher == 'none':
        return
    if launcher != 'pytorch' and not torch.cuda.is_available():
        raise ValueError(f'--launcher {launcher} is refused: it needs CUDA (mmengine\'s {launcher} '
                         'launcher initialises NCCL on GPUs), and this torch has none; on CPUs start '
                         'the processes with torchrun and --launcher pytorch (gloo)')
    needed = LAUNCHER_ENV[launcher]
    if launcher == 'pytorch' and not torch.cuda.is_available():
        needed = tuple(k for k in needed if k != 'LOCAL_RANK')  # gloo does not read it
    missing = [k for k in needed if k not in os.environ]
    if missing:
        raise ValueError(f'--launcher {launcher} is refused: {", ".join(missing)} not set in the '
                         f'environment; {START_HINT[launcher]}, or run with --launcher none')


def init_launcher(launcher: str, cfg: Config) -> None:
    """Initialise the process group of ``launcher`` (after :func:`check_launcher`).

    ``pytorch`` on a CPU-only torch: ``gloo`` from torchrun's variables
    (:func:`setup_cpu_distributed`); otherwise mmengine's ``init_dist`` with the config's
    ``env_cfg.dist_cfg`` (``nccl`` unless it names another backend). Nothing for ``none``.
    """
    check_launcher(launcher)
    if launcher == 'none' or dist.is_initialized():
        return
    if not torch.cuda.is_available():
        setup_cpu_distributed(Config())  # the process group; the runner config is set later
        return
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', None) or {})
    dist_cfg.setdefault('backend', 'nccl')
    init_dist(launcher, **dist_cfg)


def configure_runner(cfg: Config, launcher: str) -> None:
    """Set an mmengine Runner config for ``launcher`` (nothing for ``none``): ``cfg.launcher``
    and, on a CPU-only torch, ``gloo`` with DDP wrapped without ``device_ids`` (the Runner skips
    its own process-group set-up when the group exists). With CUDA mmengine's defaults (``nccl``,
    one device a process) stay."""
    if launcher == 'none':
        return  # the config as it is: a single process
    cfg.launcher = launcher
    default_find_unused_parameters(cfg)
    if not torch.cuda.is_available():
        setup_cpu_distributed(cfg)


def default_find_unused_parameters(cfg: Config) -> None:
    """``cfg.find_unused_parameters = True`` unless the config says otherwise: some iterations
    leave trainable parameters without a gradient (the detector's modality dropout,
    ``camera_only_prob`` / ``radar_only_prob``, runs one branch alone; an unlearning objective
    need not reach every parameter, as CCU leaves the camera's auxiliary head), which DDP
    refuses unless told to look for them."""
    if 'find_unused_parameters' not in cfg:
        cfg.find_unused_parameters = True


def setup_cpu_distributed(cfg: Config) -> None:
    """Initialise gloo from torchrun's environment and keep DDP off ``device_ids``.

    mmengine's ``launcher='pytorch'`` path calls ``torch.cuda.set_device`` and wraps DDP with
    ``device_ids``, which fail without CUDA; with the process group initialised here the Runner
    skips its own initialisation. ``cfg.find_unused_parameters`` is passed on to DDP, as
    mmengine's own wrapping does.

    Raises:
        RuntimeError: torchrun's variables are missing from the environment.
    """
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT') if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher pytorch needs {missing} in the environment: start it with torchrun')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                                 broadcast_buffers=False,
                                 find_unused_parameters=bool(cfg.get('find_unused_parameters', False)))
    cfg.env_cfg = dict(cfg.get('env_cfg', None) or {}, dist_cfg=dict(backend='gloo'))


def rank_and_world() -> Tuple[int, int]:
    """``(rank, world size)`` of this process; ``(0, 1)`` inside :func:`this_process_only` or
    without a process group."""
    return (0, 1) if _local_depth else get_dist_info()


@contextlib.contextmanager
def this_process_only() -> Iterator[None]:
    """Inside, the helpers of this module treat this process as a world of one: code run on one
    rank while the others wait must not start a collective they would never join."""
    global _local_depth
    _local_depth += 1
    try:
        yield
    finally:
        _local_depth -= 1


def is_rank_zero() -> bool:
    """True on rank 0 (and in a single process)."""
    return rank_and_world()[0] == 0


def shard(items: Sequence[T], rank: int, world: int) -> List[T]:
    """Rank ``rank``'s contiguous share of ``items`` out of ``world``: sizes differ by at most
    one, the first ``len(items) % world`` ranks holding one more; every item is in exactly one
    share and none is repeated to pad (a rank may get none)."""
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f'rank {rank} of a world of {world}')
    base, extra = divmod(len(items), world)
    start = rank * base + min(rank, extra)
    return list(items[start:start + base + (rank < extra)])


def run_on_rank_zero(fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` on rank 0 alone (inside :func:`this_process_only`), the other
    ranks waiting for it; its result is returned on every rank (pickled and broadcast).

    An exception raised by ``fn`` is re-raised on rank 0 and raised on the others with the same
    type (when it can be rebuilt from its message; else ``RuntimeError``) and message, so every
    rank stops the same way. A plain call in a single process.
    """
    rank, world = rank_and_world()
    if world == 1:
        return fn(*args, **kwargs)
    outcome: List[Any] = [None]
    error = None
    if rank == 0:
        try:
            with this_process_only():
                outcome = [('ok', fn(*args, **kwargs))]
        except Exception as caught:  # noqa: BLE001 (every rank must learn of any failure)
            error, outcome = caught, [_describe(caught)]
    broadcast_object_list(outcome, src=0)
    if error is not None:
        raise error
    if outcome[0][0] != 'ok':
        raise _rebuild(outcome[0])
    return outcome[0][1]


def run_sharded(items: Sequence[K], compute: Callable[[List[K]], Mapping[K, T]]) -> Dict[K, T]:
    """``compute`` over this rank's :func:`shard` of ``items``, the ranks' results gathered on
    every rank.

    Args:
        items: distinct keys (e.g. sample tokens).
        compute: maps a list of items to ``{item: result}`` for exactly those items.

    Returns:
        ``{item: result}`` for every item: rank 0's results first, each rank's in the order its
        ``compute`` returned them. In a single process ``compute(list(items))`` as it is.

    Raises:
        ValueError: ``items`` repeats an item, or a rank's results are not exactly its share.
        Any error of ``compute`` on any rank, raised on every rank (as :func:`run_on_rank_zero`).
    """
    rank, world = rank_and_world()
    if world == 1:
        return compute(list(items))
    items = list(items)
    if len(set(items)) != len(items):
        raise ValueError(f'run_sharded: {len(items) - len(set(items))} repeated items')
    part = shard(items, rank, world)
    try:
        outcome = ('ok', dict(compute(part)) if part else {})
    except Exception as caught:  # noqa: BLE001
        error, outcome = caught, _describe(caught)
    else:
        error = None
    gathered = all_gather_object(outcome)
    if error is not None:
        raise error
    failed = [o for o in gathered if o[0] != 'ok']
    if failed:
        raise _rebuild(failed[0])
    merged: Dict[K, T] = {}
    for r, (_, results) in enumerate(gathered):
        expected = shard(items, r, world)
        if set(results) != set(expected):
            raise ValueError(f'run_sharded: rank {r} returned {len(results)} results for its '
                             f'{len(expected)} items, {len(set(results) ^ set(expected))} differing')
        merged.update(results)
    return merged


def _describe(error: BaseException) -> Tuple[str, str, str, str]:
    """An exception as plain strings (any exception's class pickles by name, not every instance)."""
    cls = type(error)
    return ('error', cls.__module__, cls.__qualname__, str(error))


def _rebuild(outcome: Tuple[str, str, str, str]) -> BaseException:
    """The exception :func:`_describe` described: its class when that can be imported and built
    from the message, else a ``RuntimeError`` naming it."""
    _, module, qualname, message = outcome
    try:
        cls = importlib.import_module(module)
        for name in qualname.split('.'):
            cls = getattr(cls, name)
        if isinstance(cls, type) and issubclass(cls, Exception):
            return cls(message)
    except Exception:  # noqa: BLE001 (fall back to a RuntimeError below)
        pass
    return RuntimeError(f'{module}.{qualname}: {message}')
