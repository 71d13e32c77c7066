"""A disk cache of a checkpoint's predictions per modality mode, so reports do not re-run the model.

Layout under ``root``::

    <checkpoint sha256>/<mode>/<token-set sha256>.json         the predictions
    <checkpoint sha256>/<mode>/<token-set sha256>.tokens.json  the sample tokens they cover

A prediction file is ``{'schema': 1, 'checkpoint_sha256', 'mode', 'results': {token: [box, ...]}}``
with boxes in the nuScenes submission format (what the devkit and ``NuScenesSubsetEvaluator``
read). Other per-sample outputs of a checkpoint are stored the same way under their own mode name:
the membership attack keeps its per-sample features as ``camera_membership`` (one record a token). A lookup is served by any entry of the same checkpoint and mode whose samples cover the
requested ones, so one inference pass over forget + retain + val serves every set.
Files are written under a temporary name and renamed into place when complete.

:class:`FigureCache` keeps, beside them under ``figures/``, the nuScenes figures of a set of
predictions. Those depend only on the predictions, the samples' ground truth and the evaluation
code and config, so a figure file is named by the sha256 of exactly these: a model re-evaluated
on the same samples (a reference model in every report of a benchmark) is scored once.
"""
import hashlib
import json
import os
import os.path as osp
import re
from typing import Callable, Dict, Iterable, List, Optional, Sequence

from mmengine.logging import MMLogger

from ..utils import write_json_atomic

SCHEMA = 1
Predictions = Dict[str, List[dict]]
_MODE = re.compile(r'^[a-z][a-z0-9_]*$')


def token_set_sha256(tokens: Iterable[str]) -> str:
    """The sha256 of a set of sample tokens (order and duplicates do not matter)."""
    return hashlib.sha256('\n'.join(sorted(set(tokens))).encode()).hexdigest()


class PredictionCache:
    """Predictions of checkpoints per mode, on disk under ``root``."""

    def __init__(self, root: str):
        self.root = root

    def _dir(self, checkpoint_sha256: str, mode: str) -> str:
        if not re.fullmatch(r'[0-9a-f]{64}', checkpoint_sha256):
            raise ValueError(f'checkpoint_sha256 must be 64 hex digits, got {checkpoint_sha256!r}')
        if not _MODE.match(mode):
            raise ValueError(f'mode must be a lower-case name like fusion, camera or radar, '
                             f'got {mode!r}')
        return osp.join(self.root, checkpoint_sha256, mode)

    def get(self, checkpoint_sha256: str, mode: str,
            tokens: Sequence[str]) -> Optional[Predictions]:
        """Cached predictions for exactly ``tokens``, from any entry covering them, or None."""
        wanted = set(tokens)
        directory = self._dir(checkpoint_sha256, mode)
        if not osp.isdir(directory):
            return None
        for name in sorted(os.listdir(directory)):
            if not name.endswith('.tokens.json'):
                continue
            with open(osp.join(directory, name)) as f:
                if not wanted <= set(json.load(f)):
                    continue
            path = osp.join(directory, name[:-len('.tokens.json')] + '.json')
            results = self._read(path, checkpoint_sha256, mode)
            return {token: results[token] for token in tokens}
        return None

    def put(self, checkpoint_sha256: str, mode: str, predictions: Predictions) -> str:
        """Store predictions (an entry per sample, [] for none); returns the prediction file."""
        if not predictions:
            raise ValueError('refusing to cache predictions of an empty set of samples')
        directory = self._dir(checkpoint_sha256, mode)
        stem = osp.join(directory, token_set_sha256(predictions))
        write_json_atomic(stem + '.json', dict(schema=SCHEMA, checkpoint_sha256=checkpoint_sha256,
                                               mode=mode, results=dict(predictions)))
        # the token list goes last: an entry counts only once its predictions are complete
        write_json_atomic(stem + '.tokens.json', sorted(predictions))
        return stem + '.json'

    def get_or_compute(self, checkpoint_sha256: str, mode: str, tokens: Sequence[str],
                       compute: Callable[[List[str]], Predictions]) -> Predictions:
        """Cached predictions, or ``compute(tokens)`` stored and returned."""
        cached = self.get(checkpoint_sha256, mode, tokens)
        logger = MMLogger.get_current_instance()
        if cached is not None:
            logger.info(f'predictions of {checkpoint_sha256[:12]} ({mode}, {len(tokens)} samples) '
                        'read from the cache')
            return cached
        predictions = compute(list(tokens))
        missing = set(tokens) - set(predictions)
        if missing:
            raise ValueError(f'compute returned no entry for {len(missing)} of {len(tokens)} '
                             f'samples, e.g. {sorted(missing)[:3]}')
        self.put(checkpoint_sha256, mode, predictions)
        return {token: predictions[token] for token in tokens}

    @staticmethod
    def _read(path: str, checkpoint_sha256: str, mode: str) -> Predictions:
        with open(path) as f:
            content = json.load(f)
        if content.get('schema') != SCHEMA or content.get('checkpoint_sha256') != checkpoint_sha256 \
                or content.get('mode') != mode:
            raise ValueError(f'{path}: not a schema-{SCHEMA} prediction file of checkpoint '
                             f'{checkpoint_sha256[:12]} in mode {mode!r}')
        return content['results']


class FigureCache:
    """Flat nuScenes figures of sets of predictions, on disk under ``root/figures``, each file named
    by the sha256 of what the figures are computed from (:class:`ccu_av.evaluation.report.FigureKeys`)."""

    def __init__(self, root: str):
        self.directory = osp.join(root, 'figures')

    def _path(self, key: str) -> str:
        if not re.fullmatch(r'[0-9a-f]{64}', key):
            raise ValueError(f'a figure key is 64 hex digits, got {key!r}')
        return osp.join(self.directory, f'{key}.json')

    def get(self, key: str) -> Optional[Dict[str, Optional[float]]]:
        """The figures stored under ``key``, or None."""
        path = self._path(key)
        if not osp.isfile(path):
            return None
        with open(path) as f:
            content = json.load(f)
        if content.get('schema') != SCHEMA or content.get('key') != key or not isinstance(content.get('figures'), dict):
            raise ValueError(f'{path}: not a schema-{SCHEMA} figure file of key {key[:12]}; remove it to '
                             'have the figures computed again')
        return content['figures']

    def put(self, key: str, figures: Dict[str, Optional[float]]) -> str:
        path = self._path(key)
        write_json_atomic(path, dict(schema=SCHEMA, key=key, figures=figures))
        return path
