"""A tiny camera+radar detector on a toy BEV world, offering the modal-features interface.

World: an 8 x 8 BEV grid of 2 m cells over ``PCR``; each sample holds a few objects of two
classes, one per cell, with boxes smaller than a cell. The "camera" input is a (3, Y, X) map
whose object cells carry a class colour that depends on the sample's location (location 0 is the
flagged one, as a private site with its own look) plus a class-free per-object appearance; the
"radar" input is a (2, Y, X) map with a noisier, location-independent class signature. The
detector: 1x1-conv camera and radar branches, concatenation + 1x1-conv fusion, a 1x1-conv class
heatmap head with a BCE loss (no box regression).
"""
from typing import List, Sequence, Tuple

import torch
from mmengine.dataset import pseudo_collate
from mmengine.model import BaseDataPreprocessor, BaseModel
from mmengine.structures import InstanceData
from torch import nn
from torch.utils.data import Dataset

from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes

from ccu_av.models import ModalityMixin

PCR = [-8.0, -8.0, -5.0, 8.0, 8.0, 3.0]
GRID = 8
CELL = (PCR[3] - PCR[0]) / GRID
NUM_CLASSES = 2
# camera colour of each class at each location: location 0 looks different from the others
CAMERA_COLOURS = torch.tensor([[[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]],  # location 0 (forget)
                               [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],   # location 1
                               [[0.9, 0.1, 0.0], [0.1, 0.9, 0.0]]])  # location 2
RADAR_SIGNATURES = torch.tensor([[0.6, 0.0], [0.0, 0.6]])


class ToyBEVDataset(Dataset):
    """``num_samples`` samples fixed by ``seed``, sample ``i`` at ``locations[i % len]``."""

    metainfo = dict(classes=('car', 'pedestrian'))

    def __init__(self, locations: Tuple[int, ...], num_samples: int, seed: int, objects: int = 3):
        self.locations, self.num_samples, self.seed, self.objects = locations, num_samples, seed, objects

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, idx: int) -> dict:
        location = self.locations[idx % len(self.locations)]
        g = torch.Generator().manual_seed(self.seed * 10_000 + idx)
        cells = torch.randperm(GRID * GRID, generator=g)[:self.objects]
        iy, ix = cells // GRID, cells % GRID
        labels = torch.randint(0, NUM_CLASSES, (self.objects,), generator=g)
        cam = 0.05 * torch.randn(3, GRID, GRID, generator=g)
        radar = 0.3 * torch.randn(2, GRID, GRID, generator=g)
        appearance = 0.3 * torch.randn(3, self.objects, generator=g)  # per-object, class-free
        cam[:, iy, ix] += CAMERA_COLOURS[location, labels].T + appearance
        radar[:, iy, ix] += RADAR_SIGNATURES[labels].T
        x = PCR[0] + (ix.float() + 0.5) * CELL
        y = PCR[1] + (iy.float() + 0.5) * CELL
        boxes = torch.stack([x, y, torch.full_like(x, -1.0), torch.full_like(x, 1.5),
                             torch.full_like(x, 1.0), torch.full_like(x, 1.5),
                             torch.rand(self.objects, generator=g)], dim=1)
        sample = Det3DDataSample(metainfo=dict(sample_idx=idx, location=location))
        sample.gt_instances_3d = InstanceData(bboxes_3d=LiDARInstance3DBoxes(boxes), labels_3d=labels)
        return dict(inputs=dict(cam=cam, radar=radar), data_samples=sample)


class StackInputs(BaseDataPreprocessor):
    """Stacks the per-sample ``cam`` and ``radar`` maps of a pseudo-collated batch
    (``inputs`` is then a dict of lists, as mmengine's ``pseudo_collate`` makes it)."""

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        return dict(inputs={key: torch.stack(maps) for key, maps in data['inputs'].items()},
                    data_samples=data['data_samples'])


class TinyCamRadar(ModalityMixin, BaseModel):
    """1x1-conv camera and radar branches, fusion and heatmap head (see module doc)."""

    def __init__(self, channels: int = 8):
        super().__init__(data_preprocessor=StackInputs())
        self.camera_encoder = nn.Conv2d(3, channels, 1)
        self.radar_encoder = nn.Conv2d(2, channels, 1)
        self.fuser = nn.Sequential(nn.Conv2d(2 * channels, channels, 1), nn.ReLU())
        self.head = nn.Conv2d(channels, NUM_CLASSES, 1)

    def extract_modal_feats(self, batch_inputs: dict, batch_data_samples: list) -> dict:
        camera = self.camera_encoder(batch_inputs['cam'])
        radar = self.radar_encoder(batch_inputs['radar'])
        if self.modality == 'radar':
            camera = torch.zeros_like(camera)
        if self.modality == 'camera':
            radar = torch.zeros_like(radar)
        return dict(camera=camera, radar=radar, fused=self.fuse_modal_feats(camera, radar))

    def fuse_modal_feats(self, camera_feats: torch.Tensor, radar_feats: torch.Tensor) -> torch.Tensor:
        return self.fuser(torch.cat([camera_feats, radar_feats], 1))

    def extract_image_feats(self, batch_inputs: dict, batch_data_samples: list) -> torch.Tensor:
        """The optional interface member: the camera map as the one 'image' of a sample."""
        return self.camera_encoder(batch_inputs['cam'])[:, None]

    @staticmethod
    def targets(batch_data_samples: list, like: torch.Tensor) -> torch.Tensor:
        """(B, NUM_CLASSES, Y, X) one-hot heatmap at the objects' cells."""
        target = torch.zeros_like(like)
        for b, ds in enumerate(batch_data_samples):
            xy = ds.gt_instances_3d.bboxes_3d.tensor[:, :2]
            ix = ((xy[:, 0] - PCR[0]) / CELL).long()
            iy = ((xy[:, 1] - PCR[1]) / CELL).long()
            target[b, ds.gt_instances_3d.labels_3d, iy, ix] = 1.0
        return target

    def head_forward(self, fused_feats: torch.Tensor) -> dict:
        """The class heatmap logits; the head regresses no boxes (a (B, 0, Y, X) regression)."""
        logits = self.head(fused_feats)
        return dict(heatmap=logits, regression=logits[:, :0])

    def head_loss(self, fused_feats: torch.Tensor, batch_data_samples: list) -> dict:
        logits = self.head_forward(fused_feats)['heatmap']
        return dict(loss_heatmap=nn.functional.binary_cross_entropy_with_logits(
            logits, self.targets(batch_data_samples, logits)))

    def head_predict(self, fused_feats: torch.Tensor, batch_data_samples: list) -> List[InstanceData]:
        scores = self.head_forward(fused_feats)['heatmap'].sigmoid().flatten(2)  # (B, K, Y*X)
        best, labels = scores.max(1)
        return [InstanceData(scores_3d=s, labels_3d=lab) for s, lab in zip(best, labels)]

    def forward(self, inputs: dict, data_samples: list = None, mode: str = 'tensor'):
        feats = self.extract_modal_feats(inputs, data_samples)
        if mode == 'loss':
            return self.head_loss(feats['fused'], data_samples)
        if mode == 'predict':
            return self.head_predict(feats['fused'], data_samples)
        return self.head_forward(feats['fused'])['heatmap']


def whole_batch(model: TinyCamRadar, datasets: List[Dataset]) -> dict:
    """All samples of ``datasets`` as one preprocessed batch."""
    return model.data_preprocessor(pseudo_collate([ds[i] for ds in datasets for i in range(len(ds))]))


def accuracy(model: TinyCamRadar, dataset: Dataset, modality: str) -> float:
    """Share of objects whose class is the heatmap's argmax at their cell, in ``modality`` mode."""
    batch = whole_batch(model, [dataset])
    with model.use_modality(modality), torch.no_grad():
        logits = model(batch['inputs'], batch['data_samples'])
    target = model.targets(batch['data_samples'], logits)
    on_object = target.sum(1) > 0  # (B, Y, X)
    return float((logits.argmax(1) == target.argmax(1))[on_object].float().mean())


def pretrain(model: TinyCamRadar, datasets: List[Dataset], steps: int = 150, seed: int = 0,
             radar_only: Sequence[Dataset] = ()) -> None:
    """Train on ``datasets`` in turn in fusion, camera-only and radar-only mode (Adam); the
    ``radar_only`` datasets are trained on in radar-only mode alone (their cameras unseen: the
    visual retrain)."""
    torch.manual_seed(seed)
    batch = whole_batch(model, datasets)
    radar_batch = whole_batch(model, list(radar_only)) if radar_only else None
    optim = torch.optim.Adam(model.parameters(), lr=0.03)
    for step in range(steps):
        with model.use_modality(('fusion', 'camera', 'radar')[step % 3]):
            loss = model(batch['inputs'], batch['data_samples'], mode='loss')['loss_heatmap']
        if radar_batch is not None:
            with model.use_modality('radar'):
                loss = loss + model(radar_batch['inputs'], radar_batch['data_samples'],
                                    mode='loss')['loss_heatmap']
        optim.zero_grad()
        loss.backward()
        optim.step()
