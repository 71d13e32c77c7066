"""Object embeddings pooled from BEV maps at ground-truth boxes."""
import math

import pytest
import torch
from mmengine.structures import InstanceData

from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes

from ccu_av.unlearning.embeddings import BoxPooler, ObjectSet, gt_objects

PCR = [-4.0, -4.0, -5.0, 4.0, 4.0, 3.0]  # 4 x 4 cells of 2 m on a (4, 4) map


def objects(rows, labels=None, sample_idx=None):
    boxes = torch.tensor(rows, dtype=torch.float32)
    K = boxes.shape[0]
    return ObjectSet(boxes, torch.tensor(labels or [0] * K),
                     torch.tensor(sample_idx or [0] * K))


def reference_pool(feats, objs, pcr):
    """Slow, obvious version: loop over objects and cells."""
    B, C, Y, X = feats.shape
    cx, cy = (pcr[3] - pcr[0]) / X, (pcr[4] - pcr[1]) / Y
    out = []
    for (x, y, _, l, w, _, yaw), b in zip(objs.boxes.tolist(), objs.sample_idx.tolist()):
        cells = []
        for iy in range(Y):
            for ix in range(X):
                px, py = pcr[0] + (ix + 0.5) * cx - x, pcr[1] + (iy + 0.5) * cy - y
                u = math.cos(yaw) * px + math.sin(yaw) * py
                v = -math.sin(yaw) * px + math.cos(yaw) * py
                if abs(u) <= l / 2 and abs(v) <= w / 2:
                    cells.append((iy, ix))
        if not cells:
            ix, iy = math.floor((x - pcr[0]) / cx), math.floor((y - pcr[1]) / cy)
            if 0 <= ix < X and 0 <= iy < Y:
                cells = [(iy, ix)]
        if cells:
            out.append(torch.stack([feats[b, :, iy, ix] for iy, ix in cells]).mean(0))
    return torch.stack(out) if out else feats.new_zeros(0, C)


def test_footprints_by_hand():
    feats = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)  # value = 4 * iy + ix
    objs = objects([[0, 0, 0, 4, 4, 1, 0.0],              # cells (1..2, 1..2): 5, 6, 9, 10
                    [0, 0, 0, 4, 4, 1, math.pi / 4],      # rotated square: the same 4 cells
                    [0, -1, 0, 4, 1, 1, 0.0],             # long along x on row iy=1: 5, 6
                    [0, -1, 0, 4, 1, 1, math.pi / 2],     # along y, between centres: cell (1, 2)
                    [9, 9, 0, 1, 1, 1, 0.0]])             # off the grid: dropped
    pooler = BoxPooler(PCR)
    emb = pooler(feats, objs)
    assert emb[:, 0].tolist() == [7.5, 7.5, 5.5, 6.0]
    assert pooler.kept(objs, 4, 4).tolist() == [True, True, True, True, False]


def test_agrees_with_the_reference_on_random_boxes_and_resolutions():
    g = torch.Generator().manual_seed(0)
    K = 12
    boxes = torch.cat([(torch.rand(K, 2, generator=g) - 0.5) * 10,        # some off the grid
                       torch.zeros(K, 1), 0.3 + 3 * torch.rand(K, 2, generator=g),
                       torch.ones(K, 1), 6.3 * torch.rand(K, 1, generator=g)], dim=1)
    objs = ObjectSet(boxes, torch.zeros(K, dtype=torch.long), torch.randint(0, 2, (K,), generator=g))
    for Y, X in ((4, 4), (8, 8), (8, 4)):
        feats = torch.randn(2, 5, Y, X, generator=g)
        got = BoxPooler(PCR)(feats, objs)
        assert torch.allclose(got, reference_pool(feats, objs, PCR), atol=1e-6)


def test_gradients_reach_only_the_pooled_cells():
    feats = torch.zeros(1, 2, 4, 4, requires_grad=True)
    BoxPooler(PCR)(feats, objects([[-3, -3, 0, 1, 1, 1, 0.0]])).sum().backward()
    touched = feats.grad.abs().sum(1)[0].nonzero().tolist()
    assert touched == [[0, 0]]


def test_gt_objects_flattens_samples_and_names_a_sample_without_boxes():
    samples = []
    for b, k in enumerate((2, 0, 1)):
        ds = Det3DDataSample(metainfo=dict(token=f'tok{b}'))
        ds.gt_instances_3d = InstanceData(bboxes_3d=LiDARInstance3DBoxes(torch.rand(k, 9), box_dim=9),
                                          labels_3d=torch.arange(k))
        samples.append(ds)
    objs = gt_objects(samples)
    assert objs.boxes.shape == (3, 7)
    assert objs.sample_idx.tolist() == [0, 0, 2] and objs.labels.tolist() == [0, 1, 0]
    with pytest.raises(KeyError, match='tok9'):
        gt_objects([Det3DDataSample(metainfo=dict(token='tok9'))])
