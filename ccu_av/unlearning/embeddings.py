"""Per-object embeddings pooled from BEV features at ground-truth boxes.

An object's embedding is the mean feature over the BEV cells whose centres fall inside its
rotated footprint; an object smaller than a cell uses the cell under its centre, and one whose
centre lies outside the grid is dropped. The selection depends only on the boxes and the grid, so
student and teacher embeddings of the same boxes come out in the same order.

mmdet3d's point-in-box ops are 3D and (for the batched variants) CUDA-only, so the 2D footprint
test is written here.
"""
from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from ..models.bev_grid import BEVGrid


class ObjectSet(NamedTuple):
    """Ground-truth objects of a batch, flattened over samples.

    ``boxes`` (K, >=7) ``(x, y, z, l, w, h, yaw, ...)`` in the LIDAR_TOP frame, ``labels`` (K,),
    ``sample_idx`` (K,) the sample each object belongs to.
    """
    boxes: Tensor
    labels: Tensor
    sample_idx: Tensor


def gt_objects(batch_data_samples: Sequence) -> ObjectSet:
    """The ``gt_instances_3d`` boxes and labels of a batch of data samples.

    Raises:
        KeyError: a sample without ``gt_instances_3d`` (boxes are needed to pool embeddings).
    """
    boxes, labels, idx = [], [], []
    for b, ds in enumerate(batch_data_samples):
        if 'gt_instances_3d' not in ds:
            raise KeyError(f'data sample {b} ({ds.metainfo.get("token", "no token")}) has no '
                           'gt_instances_3d: CCU pools object embeddings at ground-truth boxes')
        gt = ds.gt_instances_3d
        box = gt.bboxes_3d.tensor if hasattr(gt.bboxes_3d, 'tensor') else gt.bboxes_3d
        boxes.append(box[:, :7].float())
        labels.append(gt.labels_3d.long())
        idx.append(torch.full((box.shape[0],), b, dtype=torch.long))
    device = boxes[0].device if boxes else 'cpu'
    return ObjectSet(torch.cat(boxes).to(device) if boxes else torch.zeros(0, 7),
                     torch.cat(labels).to(device) if labels else torch.zeros(0, dtype=torch.long),
                     torch.cat(idx).to(device) if idx else torch.zeros(0, dtype=torch.long))


class BoxPooler:
    """Pools (B, C, Y, X) BEV features into (K, C) object embeddings.

    Args:
        point_cloud_range: ``[x0, y0, z0, x1, y1, z1]`` of the BEV grid (metres); the cell size of
            each feature map is its extent divided by the map's ``X`` and ``Y``, so maps of
            different strides over the same range are served by one pooler.
    """

    def __init__(self, point_cloud_range: Sequence[float]):
        if len(point_cloud_range) != 6:
            raise ValueError(f'point_cloud_range must hold 6 values, got {list(point_cloud_range)}')
        self.range = [float(v) for v in point_cloud_range]

    def weights(self, objects: ObjectSet, Y: int, X: int) -> Tensor:
        """(K, Y*X) pooling weights, each kept object's row summing to 1 (dropped: all zero)."""
        x0, y0, z0, x1, y1, z1 = self.range
        grid = BEVGrid(self.range, [(x1 - x0) / X, (y1 - y0) / Y])
        device = objects.boxes.device
        iy, ix = torch.meshgrid(torch.arange(Y, device=device), torch.arange(X, device=device),
                                indexing='ij')
        cx, cy = grid.cell_centres(ix.flatten(), iy.flatten())  # (Y*X,) each
        # offsets of every cell centre from every box centre, rotated into the box frame
        x, y, l, w, yaw = (objects.boxes[:, k:k + 1] for k in (0, 1, 3, 4, 6))  # (K, 1) each
        dx, dy = cx[None] - x, cy[None] - y  # (K, Y*X)
        cos, sin = torch.cos(yaw), torch.sin(yaw)
        inside = ((cos * dx + sin * dy).abs() <= l / 2) & ((-sin * dx + cos * dy).abs() <= w / 2)
        # objects smaller than a cell: the cell under the centre
        centre = torch.stack([objects.boxes[:, 0], objects.boxes[:, 1],
                              torch.full_like(objects.boxes[:, 0], z0)], dim=1)
        cix, ciy, in_grid = grid.cell_index(centre)
        empty = ~inside.any(1) & in_grid
        rows = empty.nonzero(as_tuple=True)[0]
        inside[rows, ciy[rows] * X + cix[rows]] = True
        weights = inside.float()
        return weights / weights.sum(1, keepdim=True).clamp(min=1)

    def kept(self, objects: ObjectSet, Y: int, X: int) -> Tensor:
        """(K,) bool: the objects that get an embedding on a (Y, X) map."""
        return self.weights(objects, Y, X).sum(1) > 0

    def __call__(self, feats: Tensor, objects: ObjectSet) -> Tensor:
        """(K', C) embeddings of the kept objects (see :meth:`kept`), in ``objects`` order."""
        B, C, Y, X = feats.shape
        weights = self.weights(objects, Y, X)  # (K, Y*X)
        k, n = weights.nonzero(as_tuple=True)  # the few cells each object covers
        flat = feats.flatten(2)  # (B, C, Y*X)
        cells = flat[objects.sample_idx[k], :, n] * weights[k, n, None].to(feats.dtype)  # (nnz, C)
        pooled = feats.new_zeros(weights.shape[0], C).index_add(0, k, cells)  # (K, C)
        return pooled[weights.sum(1) > 0]
