"""Checkpoint predictions through registries, with a toy detector and dataset registered here."""
import json
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip('torch')
pytest.importorskip('mmdet3d.models')

from mmcv.transforms import BaseTransform  # noqa: E402
from mmdet3d.models import Base3DDetector  # noqa: E402
from mmdet3d.registry import DATASETS, MODELS, TRANSFORMS  # noqa: E402
from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes  # noqa: E402
from mmengine import load as mmengine_load  # noqa: E402
from mmengine.dataset import BaseDataset  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402

from ccu_av.models.interface import MODALITIES, ModalityMixin  # noqa: E402
from ccu_av.models.weights import build_detector  # noqa: E402
from ccu_av.utils.checkpoint import CheckpointError  # noqa: E402
from ccu_av.visualization.boxes import CLASS_COLORS  # noqa: E402
from ccu_av.visualization.predict import (DATALOADERS, find_sample, load_config,  # noqa: E402
                                          predict_sample)


@MODELS.register_module(force=True)
class VisToyDetector(ModalityMixin, Base3DDetector):
    """One box per sample at ``offset``; its label is the index of the active modality."""

    def __init__(self, data_preprocessor=None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.offset = torch.nn.Parameter(torch.zeros(3))

    def extract_feat(self, batch_inputs):
        return batch_inputs['value']

    def predict(self, batch_inputs, batch_data_samples):
        results = []
        for value in self.extract_feat(batch_inputs):
            box = torch.cat([self.offset + value, torch.tensor([4.0, 2.0, 1.5, 0.0, 0.0, 0.0])])
            results.append(InstanceData(bboxes_3d=LiDARInstance3DBoxes(box[None], box_dim=9),
                                        scores_3d=torch.tensor([0.9]),
                                        labels_3d=torch.tensor([MODALITIES.index(self.modality)])))
        return self.add_pred_to_datasample(batch_data_samples, results)

    def loss(self, batch_inputs, batch_data_samples):
        return dict(loss=self.offset.sum())

    def _forward(self, batch_inputs, batch_data_samples=None):
        return self.extract_feat(batch_inputs)


@MODELS.register_module(force=True)
class VisToyPlainDetector(Base3DDetector):
    """A detector without the modal interface (no ``modality`` attribute)."""

    def __init__(self, data_preprocessor=None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.offset = torch.nn.Parameter(torch.zeros(3))

    extract_feat = predict = loss = _forward = VisToyDetector.extract_feat


@DATASETS.register_module(force=True)
class VisToyDataset(BaseDataset):
    """Samples listed in a JSON file of tokens; sample ``i`` carries the value ``i``."""

    def load_data_list(self):
        with open(self.ann_file) as f:
            return [dict(token=token, value=float(i)) for i, token in enumerate(json.load(f))]


@TRANSFORMS.register_module(force=True)
class VisToyPack(BaseTransform):
    """The sample's value as the model input (x offset of its box)."""

    def transform(self, results):
        return dict(inputs=dict(value=torch.tensor([results['value'], 0.0, 0.0])),
                    data_samples=Det3DDataSample(metainfo=dict(token=results['token'])))


@pytest.fixture
def toy_config(tmp_path):
    (tmp_path / 'train.json').write_text(json.dumps(['a', 'sample_0', 'sample_1']))
    (tmp_path / 'val.json').write_text(json.dumps(['v']))
    config = tmp_path / 'toy.py'
    config.write_text(textwrap.dedent(f'''
        default_scope = 'mmdet3d'
        model = dict(type='VisToyDetector')
        pipeline = [dict(type='VisToyPack')]
        train_dataloader = dict(dataset=dict(type='VisToyDataset', data_root='{tmp_path}',
                                             ann_file='train.json', pipeline=pipeline))
        test_dataloader = dict(dataset=dict(type='VisToyDataset', data_root='{tmp_path}',
                                            ann_file='val.json', pipeline=pipeline))
        '''))
    torch.save({'state_dict': {'offset': torch.tensor([1.0, 2.0, -1.0])}}, tmp_path / 'good.pth')
    torch.save({'state_dict': {'offset': torch.zeros(4)}}, tmp_path / 'shape.pth')
    torch.save({'state_dict': {'offset': torch.zeros(3), 'extra': torch.zeros(1)}}, tmp_path / 'keys.pth')
    return tmp_path


def test_predictions_follow_checkpoint_dataset_and_modality(toy_config):
    cfg = load_config(str(toy_config / 'toy.py'))
    model = build_detector(cfg, str(toy_config / 'good.pth'))
    dataset, index = find_sample(cfg, 'sample_1')          # found in the training info file
    assert index == 2
    for modality in MODALITIES:
        boxes = predict_sample(model, dataset, index, modality)
        np.testing.assert_allclose(boxes.boxes[0, :3], [1.0 + 2.0, 2.0, -1.0])
        np.testing.assert_allclose(boxes.velocity, [[0.0, 0.0]])
        assert boxes.labels.tolist() == [MODALITIES.index(modality)]
        assert boxes.scores.tolist() == pytest.approx([0.9])
    assert model.modality == 'fusion'


def test_mismatching_checkpoint_and_unknown_token_are_clear_errors(toy_config):
    cfg = load_config(str(toy_config / 'toy.py'))
    for name, difference in (('shape.pth', r'shape of offset: checkpoint \(4,\), model \(3,\)'),
                             ('keys.pth', 'unexpected in checkpoint: extra')):
        with pytest.raises(ValueError, match=f'(?s){name} does not fit VisToyDetector.*{difference}'):
            build_detector(cfg, str(toy_config / name))
    with pytest.raises(CheckpointError, match='does not exist'):
        build_detector(cfg, str(toy_config / 'missing.pth'))
    with pytest.raises(ValueError, match="'zzz' is in none of the info files"):
        find_sample(cfg, 'zzz')
    cfg.model = dict(type='VisToyPlainDetector')
    with pytest.raises(TypeError, match='VisToyPlainDetector has no `modality` attribute'):
        build_detector(cfg, str(toy_config / 'good.pth'))


def test_tool_draws_two_checkpoints_side_by_side(visualize_tool, toy_config, vis_nuscenes, tmp_path):
    tool = visualize_tool
    out = tmp_path / 'out'
    code = tool.main([vis_nuscenes['dataroot'], '--version', vis_nuscenes['version'],
                      '--sample', vis_nuscenes['sample_token'], '--out-dir', str(out),
                      '--config', str(toy_config / 'toy.py'),
                      '--checkpoint', str(toy_config / 'good.pth'),
                      '--checkpoint2', str(toy_config / 'good.pth'), '--mode', 'camera',
                      '--pictures', 'bev', '--no-show'])
    assert code == 0
    bev = cv2.imread(str(next(out.iterdir())))[..., ::-1]
    assert bev.shape == (800, 3 * 800 + 2 * 4, 3)          # ground truth and two checkpoints
    truck = CLASS_COLORS[MODALITIES.index('camera')]       # the toy labels camera-mode boxes 1
    panels = [bev[:, i * 804:i * 804 + 800] for i in range(3)]
    assert [(p == truck).all(axis=-1).any() for p in panels] == [False, True, True]
    code = tool.main([vis_nuscenes['dataroot'], '--version', vis_nuscenes['version'],
                      '--sample', vis_nuscenes['sample_token'], '--out-dir', str(tmp_path / 'bad'),
                      '--config', str(toy_config / 'toy.py'),
                      '--checkpoint', str(toy_config / 'keys.pth'), '--no-show'])
    assert code == 2 and not (tmp_path / 'bad').exists()


def test_tool_runs_the_project_detector_on_synthetic_data(visualize_tool, tmp_path):
    """The real config, dataset pipeline and CamRadarBEVFusion (untrained weights), end to end."""
    from ccu_av.datasets.nuscenes_converter import create_nuscenes_infos
    from ccu_av.datasets.synthetic import SyntheticNuScenesConfig, write_synthetic_nuscenes
    data = SyntheticNuScenesConfig(
        locations=('boston-seaport',), takedown_location='boston-seaport', train_scenes_per_location=1,
        val_scenes_per_location=1, samples_per_scene=2, lidar_beams=8, lidar_azimuth_steps=180,
        objects_per_scene=(4, 6), private_sites=0)
    root = write_synthetic_nuscenes(tmp_path / 'synth', data, seed=0)['dataroot']
    infos = create_nuscenes_infos(root, data.version, root)
    token = mmengine_load(infos['train'])['data_list'][1]['token']        # a training (flaggable) sample
    config = str(Path(__file__).parents[2] / 'configs' / 'pretrain_camradar_bevfusion.py')
    cfg = load_config(config)
    torch.manual_seed(0)
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, tmp_path / 'original.pth')
    torch.save({'state_dict': {'offset': torch.zeros(3)}}, tmp_path / 'other_model.pth')
    roots = [f'{name}.dataset.data_root={root}' for name in DATALOADERS]
    base = [root, '--version', data.version, '--sample', token, '--config', config, '--pictures', 'bev',
            '--bev-range', '30', '--score-thr', '0', '--no-show', '--cfg-options', *roots]
    out = tmp_path / 'out'
    assert visualize_tool.main(base + ['--checkpoint', str(tmp_path / 'original.pth'), '--mode', 'radar',
                                       '--out-dir', str(out)]) == 0
    bev = cv2.imread(str(next(out.iterdir())))[..., ::-1]
    assert bev.shape == (480, 2 * 480 + 4, 3)
    predicted = bev[:, 484:]
    assert sum((predicted == color).all(axis=-1).sum() for color in CLASS_COLORS) > 0
    assert visualize_tool.main(base + ['--checkpoint', str(tmp_path / 'other_model.pth'),
                                       '--out-dir', str(tmp_path / 'bad')]) == 2
    assert not (tmp_path / 'bad').exists()


def test_a_job_config_gives_its_detector_and_finds_a_flagged_training_sample(tmp_path):
    """The README's example: tools/visualize.py --config configs/ccu_bevfusion.py on a flagged
    training sample (a job config has no val loader and wraps its training dataset)."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'jobs'))
    from test_unlearn_job import write_configs

    from ccu_av.jobs import load_job_config, steps
    job = write_configs(tmp_path, str(tmp_path / 'data'))
    files = steps.data(load_job_config(job))
    flagged = steps.select(load_job_config(job), files).forget[0]
    cfg = load_config(job)
    assert cfg.model.type == 'CamRadarBEVFusion' and 'job' not in cfg
    dataset, index = find_sample(cfg, flagged)
    assert dataset.get_data_info(index)['token'] == flagged
    assert dataset.ann_file.endswith('nuscenes_infos_train.pkl')
