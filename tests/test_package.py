"""Importing ccu_av, directly or through an mmdet3d config's custom_imports, registers its modules."""
import subprocess
import sys
import textwrap


REGISTERED = {
    'DATASETS': ['CamRadarNuScenesDataset', 'PairedDataset', 'UnlearningDataset'],
    'DATA_SAMPLERS': ['PairedBatchSampler'],
    'TRANSFORMS': ['LoadRadarSweeps', 'LoadLidarDepthTargets', 'ComposeCameraMatrices',
                   'PackCamRadarInputs'],
    'METRICS': ['NuScenesSubsetMetric'],
    'HOOKS': ['UnlearningHook'],
    'MODELS': ['CamRadarBEVFusion', 'LiftSplatViewTransform', 'RadarPillarEncoder', 'ConvFuser',
               'ImageCenterHeatmapHead', 'UnlearningModel'],
}


def test_custom_imports_registers_modules():
    """In a fresh interpreter (nothing imported before), the config mechanism alone suffices."""
    code = textwrap.dedent(f"""
        import mmdet3d.registry
        from mmengine.config import Config
        from mmengine.utils import import_modules_from_strings
        cfg = Config(dict(custom_imports=dict(imports=['ccu_av'], allow_failed_imports=False)))
        import_modules_from_strings(**cfg['custom_imports'])
        missing = [(r, n) for r, names in {REGISTERED!r}.items() for n in names
                   if getattr(mmdet3d.registry, r).get(n) is None]
        assert not missing, missing
        print('ok')
    """)
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == 'ok', res.stderr[-2000:]


def test_mmcv_ops_run():
    import torch
    from mmcv.ops import nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.], [50., 50., 60., 60.]])
    _, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
