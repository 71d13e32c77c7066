"""ccu_av: make camera+radar 3D detectors forget flagged camera footage.

Importing the package registers its modules into mmdet3d's registries, so any mmdet3d config can
use them with ``custom_imports=dict(imports=['ccu_av'])``, and routes mmengine's local checkpoint
loading and file writes through :mod:`ccu_av.utils.checkpoint` (safe loading, atomic writes).
"""
from .utils import install_mmengine_overrides

__version__ = '0.1.0'

install_mmengine_overrides()

# Register the datasets, transforms, models, metrics and unlearning hooks.
from . import datasets, evaluation, models, unlearning  # noqa: E402,F401
