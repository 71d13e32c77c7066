"""Retain support: how much of what the model knows about a forget sample the retain set also teaches.

A takedown of a few ordinary scenes flags samples whose look the model also learns from many
retain scenes; a model retrained without the flagged camera footage still sees them well, so
making the camera blind there over-forgets. A whole location or a private site flags a look that
no retain scene has; there the retrain sees little. What tells the two apart, without any
reference model, is whether the original model's camera embeddings of the forget objects have
close neighbours among those of the retain objects:

- ``retain_similarity``: the cosine of each retain object to its nearest retain object of the same
  class *in another scene* (frames of one scene are near duplicates), the spread of similarities
  that an object the retain set does support shows;
- an object is *supported* when its cosine to the nearest retain object of its class reaches the
  ``quantile`` of its class's retain similarities (a retain object itself falls below it with
  probability ``quantile``);
- the forget weight of a sample is its unsupported share of objects, rescaled so that a sample as
  supported as a typical retain sample gets 0 and one without any support 1:
  ``clip((unsupported - quantile) / (1 - quantile), 0, 1)``.

Plain nearest-neighbour arithmetic on a few thousand embeddings; nothing in torch or mmengine
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
    """(K,) bool: which forget objects the retain objects support (module doc).

    Args:
        forget: (K, C) forget objects' embeddings; forget_labels: (K,) their classes.
        retain: (R, C) retain objects' embeddings; retain_labels: (R,) their classes;
            retain_groups: (R,) the scene of each (same-scene neighbours are not counted).
        quantile: of the retain similarities, per class, that a supported object reaches.
    """
    if not 0.0 <= quantile < 1.0:
        raise ValueError(f'quantile must be in [0, 1), got {quantile}')
    supported = torch.zeros(forget.shape[0], dtype=torch.bool, device=forget.device)
    for label in forget_labels.unique():
        f = forget_labels == label
        r = retain_labels == label
        groups = retain_groups[r]
        if len(groups.unique()) < 2:
            continue  # no retain object of the class in two scenes: nothing supports it
        keys = retain[r]
        own = nearest_similarity(keys, keys, groups[:, None] == groups[None, :])
        threshold = torch.quantile(own, quantile)
        supported[f] = nearest_similarity(forget[f], keys) >= threshold
    return supported


def sample_weights(supported: Tensor, sample_idx: Tensor, num_samples: int, quantile: float) -> Tensor:
    """(S,) forget weight of each sample from its objects' support (module doc); a sample without
    objects gets 1 (nothing in it is shown to be supported)."""
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
