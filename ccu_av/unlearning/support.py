"""Retain support: how much of what the model sees in a forget sample the retain set also shows.

A takedown of a few ordinary scenes flags samples whose look the model also learns from many
retain scenes; a model retrained without the flagged camera footage still sees them well, so
making the camera blind there over-forgets. A whole location or a private site flags a look that
no retain scene has; there the retrain sees little. What tells the two apart, without any
reference model, is whether the original model's descriptions of the forget samples' camera
images (CCU: the channel statistics of its image features, per camera) have close neighbours
among those of the retain samples:

- the cosine of each retain item to its nearest retain item of the same kind (camera) *in
  another scene* (frames of one scene are near duplicates) is the similarity that an item the
  retain set does support shows;
- a forget item is *supported* when its cosine to the nearest retain item of its kind reaches the
  ``quantile`` of those retain similarities (a retain item itself falls below it with
  probability ``quantile``);
- the forget weight of a sample is its unsupported share of items, rescaled so that a sample as
  supported as a typical retain sample gets 0 and one without any support 1:
  ``clip((unsupported - quantile) / (1 - quantile), 0, 1)``.

Measured on the default dataset (docs/results.md): object embeddings pooled from the camera BEV
features do not tell the looks apart (a whole location's samples came out as supported as
ordinary ones); the image features' statistics do.

Plain nearest-neighbour arithmetic on a few thousand vectors; nothing in torch or mmengine
offers it, so it is written here.
"""
import hashlib
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def token_key(token: str) -> int:
    """A sample token as a 60-bit integer, so per-sample state can live in a tensor buffer."""
    return int(hashlib.sha1(str(token).encode()).hexdigest()[:15], 16)


def nearest_similarity(query: Tensor, keys: Tensor, mask: Tensor = None) -> Tensor:
    """(Q,) the largest cosine of each query row to a key row (``-1`` with no key), skipping
    pairs where the (Q, K) bool ``mask`` is True."""
    if keys.shape[0] == 0 or query.shape[0] == 0:
        return query.new_full((query.shape[0],), -1.0)
    cos = F.normalize(query, dim=1) @ F.normalize(keys, dim=1).T
    if mask is not None:
        cos = cos.masked_fill(mask, -1.0)
    return cos.max(dim=1).values


def object_support(forget: Tensor, forget_labels: Tensor, retain: Tensor, retain_labels: Tensor,
                   retain_groups: Tensor, quantile: float) -> Tensor:
    """(K,) bool: which forget items the retain items support (module doc).

    Args:
        forget: (K, C) forget items' descriptions; forget_labels: (K,) their kinds (classes,
            cameras): an item is compared with retain items of its kind only.
        retain: (R, C) retain items' descriptions; retain_labels: (R,) their kinds;
            retain_groups: (R,) the scene of each (same-scene neighbours are not counted).
        quantile: of the retain similarities, per kind, that a supported item reaches.
    """
    if not 0.0 <= quantile < 1.0:
        raise ValueError(f'quantile must be in [0, 1), got {quantile}')
    supported = torch.zeros(forget.shape[0], dtype=torch.bool, device=forget.device)
    for label in forget_labels.unique():
        f = forget_labels == label
        r = retain_labels == label
        groups = retain_groups[r]
        if len(groups.unique()) < 2:
            continue  # no retain item of the kind in two scenes: nothing supports it
        keys = retain[r]
        own = nearest_similarity(keys, keys, groups[:, None] == groups[None, :])
        threshold = torch.quantile(own, quantile)
        supported[f] = nearest_similarity(forget[f], keys) >= threshold
    return supported


def sample_weights(supported: Tensor, sample_idx: Tensor, num_samples: int, quantile: float) -> Tensor:
    """(S,) forget weight of each sample from its items' support (module doc); a sample without
    items gets 1 (nothing in it is shown to be supported)."""
    if not 0.0 <= quantile < 1.0:
        raise ValueError(f'quantile must be in [0, 1), got {quantile}')
    unsupported = torch.ones(num_samples, dtype=torch.float32)
    count = torch.bincount(sample_idx.cpu(), minlength=num_samples).float()
    miss = torch.bincount(sample_idx.cpu(), weights=(~supported).float().cpu(), minlength=num_samples)
    has = count > 0
    unsupported[has] = miss[has] / count[has]
    return ((unsupported - quantile) / (1.0 - quantile)).clamp(0.0, 1.0)


def lookup(keys: Tensor, values: Tensor, tokens: Sequence[str], what: str = 'forget weight') -> Tensor:
    """``values`` of the samples ``tokens`` from the (N,) ``keys`` of :func:`token_key`."""
    wanted = torch.tensor([token_key(t) for t in tokens], dtype=torch.long, device=keys.device)
    match = wanted[:, None] == keys[None, :]
    missing = [t for t, hit in zip(tokens, match.any(1).tolist()) if not hit]
    if missing:
        raise KeyError(f'no {what} for the samples {missing[:3]}: the pre-pass did not see them '
                       '(was the forget set changed after it ran?)')
    return values[match.float().argmax(1)]
