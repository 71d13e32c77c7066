"""Predictions of a detector on one sample, through the config's dataset pipeline.

The dataset is built from the config through mmengine's registries (the detector by
``ccu_av.models.weights.build_detector``), and the sample runs through the dataset's own test
pipeline, so the picture shows what the evaluation would see. The detector's ``modality``
attribute (``ccu_av.models.interface``) selects fusion, camera-only or radar-only prediction.
"""
from __future__ import annotations

import copy
from typing import Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from ..evaluation.modal_eval import base_dataset_cfg
from ..models.interface import use_modality
from .boxes import BoxSet

DATALOADERS = ('test_dataloader', 'val_dataloader', 'train_dataloader')


def load_config(config: str, cfg_options: Optional[dict] = None) -> Config:
    """The config with ``cfg_options`` merged, its scope set and its custom imports done. A job
    config (``configs/ccu_bevfusion.py``, ``configs/unlearn/*``) gives its detector's config
    (``ccu_av.jobs.detector_config``: the detector, the dataset the takedown selects from)."""
    from ..utils.cli import load_config as config_file
    cfg = config_file(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet3d'))
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg['custom_imports'])
    if 'job' in cfg:
        from ..jobs.config import detector_config
        cfg = detector_config(cfg)
    return cfg


def find_sample(cfg: Config, sample_token: str, dataloaders: Sequence[str] = DATALOADERS):
    """(dataset, index) of ``sample_token``: the first of the config's dataloaders' info files
    that holds it, read with the test pipeline (``test_dataloader``'s dataset settings)."""
    from mmdet3d.registry import DATASETS
    test_cfg = cfg.test_dataloader.dataset
    searched = []
    for name in dataloaders:
        if not cfg.get(name):  # absent, or None (a job config has no val loader)
            continue
        source = base_dataset_cfg(cfg[name].dataset)  # the innermost dataset of a wrapper
        ds_cfg = copy.deepcopy(test_cfg)
        ds_cfg.update(ann_file=source['ann_file'], data_root=source['data_root'], test_mode=True)
        if ds_cfg['ann_file'] in searched:
            continue
        searched.append(ds_cfg['ann_file'])
        dataset = DATASETS.build(ds_cfg)
        for index in range(len(dataset)):
            if dataset.get_data_info(index).get('token') == sample_token:
                return dataset, index
    raise ValueError(f'sample token {sample_token!r} is in none of the info files of {cfg.filename} '
                     f'({searched}); point the config at the right data with --cfg-options.')


def predict_sample(model: torch.nn.Module, dataset, index: int, modality: str = 'fusion') -> BoxSet:
    """The model's boxes for ``dataset[index]`` with only ``modality`` switched on."""
    batch = pseudo_collate([dataset[index]])
    with use_modality(model, modality), torch.no_grad():
        result = model.test_step(batch)[0]
    pred = result.pred_instances_3d
    return BoxSet.from_any(pred.bboxes_3d, pred.labels_3d, pred.scores_3d)
