"""``CCUHook``: runs Cross-modal Contrastive Unlearning inside a stock mmengine training loop.

The train dataloader serves the retain set; the hook holds the forget set. For the duration of
training the hook installs its own ``train_step`` on the model (mmengine has no hook stage that
contributes to the loss); each step preprocesses the retain batch and the forget batch of the
same iteration, computes the :class:`~ccu_av.unlearning.ccu.CCU` terms against the teacher and
updates the parameters through the runner's optimiser wrapper. Each term comes back as a log
variable, so mmengine's ``RuntimeInfoHook`` puts it in the message hub (``train/loss_unlearn``,
...) and ``LoggerHook`` prints it.

Resume: checkpoints carry the teacher's weights (``checkpoint['ccu_teacher']``, plain tensors)
and the forget order's seed (``checkpoint['meta']['ccu']``); the forget batch of iteration ``i``
depends only on (seed, ``i``) (:mod:`~ccu_av.unlearning.paired_loader`).
"""
import os.path as osp
import re
from typing import Optional, Sequence

from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet3d.registry import HOOKS

from ...models.interface import check_modal_interface
from ..ccu import CCU
from ..paired_loader import build_forget_dataset, build_forget_loader
from ..teacher import restore_teacher, snapshot_teacher, teacher_state

TEACHER_KEY = 'ccu_teacher'
# names mmengine's CheckpointHook writes into its output folder
WRITTEN_NAMES = re.compile(r'^((iter|epoch)_\d+\.pth|best_.*\.pth|last_checkpoint)$')


@HOOKS.register_module()
class CCUHook(Hook):
    """Unlearn the camera knowledge of a forget set with CCU (see module doc).

    Args:
        forget_dataloader: ``dict(dataset=..., batch_size=..., num_workers=..., collate_fn=...)``
            of the forget set (its sampler is the hook's seeded one).
        ccu: keyword arguments of :class:`CCU` (``point_cloud_range`` is required).
        frozen_modules: names of submodules (dotted, as in ``named_modules``) kept fixed and in
            eval mode during unlearning, e.g. ``('radar_encoder',)``.
        forget_seed: seed of the forget order; ``None`` uses the runner's seed.
        norm_eval: keep every batch-normalisation layer of the detector in eval mode: its
            running statistics stay the original's and batches are normalised with them (the
            forget batches, and single-modality features, would otherwise shift the statistics
            every scene is normalised with).
    """

    priority = 'NORMAL'

    def __init__(self, forget_dataloader: dict, ccu: dict, frozen_modules: Sequence[str] = (),
                 forget_seed: Optional[int] = None, norm_eval: bool = False):
        self.forget_dataloader = dict(forget_dataloader)
        self.ccu = CCU(**ccu)
        self.frozen_modules = tuple(frozen_modules)
        self.forget_seed = forget_seed
        self.norm_eval = bool(norm_eval)
        self.teacher = None
        self._forget_dataset = None
        self._forget_iter = None
        self._loaded = None  # the checkpoint seen by after_load_checkpoint (resume)
        self._frozen = []
        self._norms = []  # the batch norms norm_eval keeps in eval mode
        self._grad_flags = {}
        self._seed = None

    # ------------------------------------------------------------------ checks before training
    def before_run(self, runner) -> None:
        model = _unwrap(runner.model)
        try:
            check_modal_interface(model)
        except TypeError as err:
            raise TypeError(f'CCUHook needs a detector with the modal-features interface '
                            f'(docs/modal_interface.md): {err}') from err
        self._frozen = self._frozen_submodules(model)
        self._norms = [m for m in model.modules() if isinstance(m, _BatchNorm)] if self.norm_eval else []
        self._check_load_from(runner)
        self._forget_dataset = build_forget_dataset(self.forget_dataloader)

    def _frozen_submodules(self, model):
        modules = dict(model.named_modules())
        unknown = [name for name in self.frozen_modules if name not in modules]
        if unknown:
            raise ValueError(f'CCUHook frozen_modules {unknown} are not submodules of '
                             f'{type(model).__name__}; its top-level modules are '
                             f'{[n for n, _ in model.named_children()]}')
        return [modules[name] for name in self.frozen_modules]

    @staticmethod
    def _check_load_from(runner) -> None:
        """Refuse a ``load_from`` that the checkpoint hook of a fresh run could overwrite."""
        load_from = getattr(runner, '_load_from', None)
        if not load_from or getattr(runner, '_resume', False) or '://' in str(load_from):
            return
        out_dirs = {osp.realpath(runner.work_dir)}
        out_dirs |= {osp.realpath(h.out_dir) for h in runner.hooks
                     if isinstance(h, CheckpointHook) and isinstance(getattr(h, 'out_dir', None), str)}
        path = osp.realpath(load_from)
        if osp.dirname(path) in out_dirs and WRITTEN_NAMES.match(osp.basename(path)):
            raise ValueError(f'load_from {load_from} lies in the output folder under a name the '
                             'checkpoint hook writes; copy the original checkpoint elsewhere so '
                             'it cannot be overwritten')

    # ----------------------------------------------------------------------- resume plumbing
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = checkpoint

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.teacher is not None:
            checkpoint[TEACHER_KEY] = teacher_state(self.teacher)
            checkpoint.setdefault('meta', {})['ccu'] = dict(forget_seed=int(self._seed))

    # ----------------------------------------------------------------------------- training
    def before_train(self, runner) -> None:
        model = _unwrap(runner.model)
        self.teacher, source = self._make_teacher(runner, model)
        self._seed = self._order_seed(runner)
        self._loaded = None
        loader = build_forget_loader(self.forget_dataloader, self._seed, runner.iter,
                                     self._forget_dataset)
        self._forget_iter = iter(loader)
        self._grad_flags = {p: p.requires_grad for m in self._frozen for p in m.parameters()}
        for module in self._frozen:
            module.requires_grad_(False)
        runner.model.train_step = self._train_step_of(runner)
        MMLogger.get_current_instance().info(
            f'CCU: teacher from {source}; forget set of {len(self._forget_dataset)} samples, '
            f'order seed {self._seed}, starting at iteration {runner.iter}; frozen '
            f'{list(self.frozen_modules)}; batch norm {"frozen" if self.norm_eval else "training"}')

    def _make_teacher(self, runner, model):
        """The original model: the current weights on a fresh start, the checkpoint's teacher
        on a resume."""
        if runner.iter == 0:
            return snapshot_teacher(model), 'the initial weights'
        state = (self._loaded or {}).get(TEACHER_KEY)
        if state is None:
            raise RuntimeError(
                f'CCUHook: training resumes at iteration {runner.iter} from a checkpoint without '
                f'{TEACHER_KEY!r}, so the original model is unknown; resume from a checkpoint '
                'written by a CCU run, or start from the original weights with load_from')
        return restore_teacher(model, state, 'the resumed checkpoint'), 'the resumed checkpoint'

    def _order_seed(self, runner) -> int:
        meta = (self._loaded or {}).get('meta', {}).get('ccu') if runner.iter > 0 else None
        if meta is not None:
            return int(meta['forget_seed'])
        return int(self.forget_seed if self.forget_seed is not None else runner.seed)

    def _train_step_of(self, runner):
        """The step installed as ``runner.model.train_step`` (same signature as mmengine's)."""

        def train_step(data, optim_wrapper):
            wrapped = runner.model
            model = _unwrap(wrapped)
            with optim_wrapper.optim_context(wrapped):
                for module in self._frozen + self._norms:
                    module.eval()
                retain = model.data_preprocessor(data, True)
                forget = model.data_preprocessor(next(self._forget_iter), True)
                losses = self.ccu.loss(model, self.teacher, retain, forget)
            loss, log_vars = model.parse_losses(losses)
            optim_wrapper.update_params(loss)
            return log_vars

        return train_step

    def after_train(self, runner) -> None:
        if 'train_step' in vars(runner.model):
            del runner.model.train_step
        for param, flag in self._grad_flags.items():
            param.requires_grad_(flag)
        self._forget_iter = None


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model
