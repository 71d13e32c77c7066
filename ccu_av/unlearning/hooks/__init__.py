"""mmengine hooks of the unlearning runs, registered in mmdet3d's HOOKS."""
from .unlearning_hook import UnlearningHook

__all__ = ['UnlearningHook']
