"""Camera + radar BEV fusion by concatenation and convolution."""
from typing import Sequence

import torch
from mmcv.cnn import ConvModule
from torch import Tensor, nn

from mmdet3d.registry import MODELS


@MODELS.register_module()
class ConvFuser(nn.Sequential):
    """Concatenate modality BEV maps along channels, then a 3x3 conv + BN + ReLU.

    Args:
        in_channels: channels of each modality's BEV, in the order they are passed.
        out_channels: channels of the fused BEV.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int):
        super().__init__(
            ConvModule(sum(in_channels), out_channels, 3, padding=1, norm_cfg=dict(type='BN2d')))
        self.in_channels = list(in_channels)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """(B, sum C_i, Y, X) -> (B, C_out, Y, X) from a list of (B, C_i, Y, X)."""
        return super().forward(torch.cat(list(feats), dim=1))
