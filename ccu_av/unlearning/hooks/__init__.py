"""mmengine hooks of the unlearning methods, registered in mmdet3d's HOOKS."""
from .ccu_hook import CCUHook

__all__ = ['CCUHook']
