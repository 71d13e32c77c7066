"""Build a detector from a config and checkpoint, refusing a checkpoint whose architecture
differs from the model's."""
from typing import Dict, List

from mmdet3d.registry import MODELS
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from torch import Tensor, nn

from ccu_av.utils.checkpoint import load_checkpoint_file


def _read_state_dict(path: str) -> Dict[str, Tensor]:
    """The checkpoint's ``state_dict`` (or the whole file if it is one), loaded safely
    (weights only: ``ccu_av.utils.checkpoint``)."""
    checkpoint = load_checkpoint_file(path)
    if not isinstance(checkpoint, dict):
        raise ValueError(f'checkpoint {path} holds a {type(checkpoint).__name__}, expected a dict')
    state = checkpoint.get('state_dict', checkpoint)
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}


def architecture_mismatches(model: nn.Module, state: Dict[str, Tensor]) -> List[str]:
    """Human-readable differences between ``model``'s state dict and ``state``."""
    own = model.state_dict()
    problems = [f'missing in checkpoint: {k}' for k in own if k not in state]
    problems += [f'unexpected in checkpoint: {k}' for k in state if k not in own]
    problems += [f'shape of {k}: checkpoint {tuple(state[k].shape)}, model {tuple(v.shape)}'
                 for k, v in own.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    return problems


def load_detector_weights(model: nn.Module, path: str, max_listed: int = 10) -> None:
    """Load ``path`` into ``model`` strictly; raise ``ValueError`` naming mismatching keys."""
    state = _read_state_dict(path)
    problems = architecture_mismatches(model, state)
    if problems:
        listed = '\n  '.join(problems[:max_listed])
        more = f'\n  ... and {len(problems) - max_listed} more' if len(problems) > max_listed else ''
        raise ValueError(f'checkpoint {path} does not fit {type(model).__name__} '
                         f'({len(problems)} differences):\n  {listed}{more}')
    model.load_state_dict(state, strict=True)
    MMLogger.get_current_instance().info(f'loaded {len(state)} tensors from {path}')


def build_detector(cfg: Config, checkpoint: str) -> nn.Module:
    """``cfg.model`` built through mmdet3d's MODELS, the checkpoint loaded strictly, in eval mode
    on the CPU.

    Raises:
        CheckpointError: the checkpoint is missing, not a checkpoint, or unsafe to load.
        ValueError: the checkpoint does not fit the model (the mismatching keys are named).
        TypeError: the model has no ``modality`` attribute (``ccu_av.models.interface``).
    """
    init_default_scope(cfg.get('default_scope', 'mmdet3d'))
    model = MODELS.build(cfg.model)
    if not hasattr(model, 'modality'):
        raise TypeError(f'{type(model).__name__} has no `modality` attribute: fusion/camera/radar '
                        'selection needs ccu_av.models.interface.ModalityMixin.')
    load_detector_weights(model, checkpoint)
    return model.eval()
