"""The camera+radar nuScenes dataset: mmdet3d's NuScenesDataset over ccu_av's info files."""
import json
import os.path as osp
from typing import List, Optional, Sequence, Set, Union

from mmdet3d.datasets import NuScenesDataset
from mmdet3d.registry import DATASETS

from .nuscenes_converter import CLASSES
from .redaction import redacted_tokens


def load_token_list(tokens: Union[str, Sequence[str]]) -> List[str]:
    """Sample tokens given inline, or as the path of a JSON file holding a list of them."""
    if not isinstance(tokens, str):
        return list(tokens)
    if not osp.isfile(tokens):
        raise FileNotFoundError(f'sample token file {tokens} does not exist')
    with open(tokens) as f:
        try:
            loaded = json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f'sample token file {tokens} is not valid JSON: {error}') from error
    if not isinstance(loaded, list) or not all(isinstance(t, str) for t in loaded):
        raise ValueError(f'sample token file {tokens}: expected a JSON list of sample tokens')
    return loaded


@DATASETS.register_module()
class CamRadarNuScenesDataset(NuScenesDataset):
    """nuScenes samples with 6 cameras, 5 radars x N sweeps and LIDAR_TOP for depth targets.

    Reads info files of ``tools/create_data.py`` (``docs/data_format.md``). Each sample keeps the
    info's ``images``, ``radars`` (paths joined with ``data_prefix['radar']``), ``lidar_points``
    (path joined with ``data_prefix['pts']``, used for depth targets only) and identity keys
    (``token``, ``scene_token``, ``scene_name``, ``location``, ``timestamp``).

    Args:
        sample_tokens: keep only these samples (a forget or retain set), as a list or the path of
            a JSON list (``TakedownSelection.dump`` writes them). Every token must be in the file.
        scenes: keep only these scenes, by name or token. Every scene must be in the file.
        camera_erased_tokens: samples whose camera footage is erased (a takedown's forget set
            for the visual retrain), as a list or a JSON file; they keep their radar and boxes
            and carry ``camera_erased=True``, which ``LoadCameraImages`` and the detector honour.
            The samples whose footage was redacted from ``data_root`` (its ``REDACTION_FILE``,
            ``ccu_av/datasets/redaction.py``) are camera-erased too, whatever is given here.
        kwargs: as mmdet3d's ``NuScenesDataset``.
    """
    METAINFO = dict(NuScenesDataset.METAINFO, classes=CLASSES)

    def __init__(self,
                 data_root: str,
                 ann_file: str,
                 sample_tokens: Optional[Union[str, Sequence[str]]] = None,
                 scenes: Optional[Sequence[str]] = None,
                 camera_erased_tokens: Optional[Union[str, Sequence[str]]] = None,
                 modality: dict = dict(use_camera=True, use_lidar=False, use_radar=True),
                 data_prefix: dict = dict(pts='', img='', radar=''),
                 **kwargs) -> None:
        self.sample_tokens: Optional[Set[str]] = None if sample_tokens is None else set(
            load_token_list(sample_tokens))
        self.scenes: Optional[Set[str]] = None if scenes is None else set(scenes)
        self.camera_erased_tokens: Set[str] = set(
            load_token_list(camera_erased_tokens)) if camera_erased_tokens is not None else set()
        self.redacted_tokens: Set[str] = redacted_tokens(data_root)
        self._seen_tokens: Set[str] = set()
        self._seen_scenes: Set[str] = set()
        super().__init__(data_root=data_root, ann_file=ann_file, modality=modality,
                         data_prefix=dict(dict(pts='', img='', radar=''), **data_prefix), **kwargs)

    def _selected(self, info: dict) -> bool:
        self._seen_tokens.add(info['token'])
        self._seen_scenes.update((info['scene_name'], info['scene_token']))
        if self.sample_tokens is not None and info['token'] not in self.sample_tokens:
            return False
        return self.scenes is None or bool({info['scene_name'], info['scene_token']} & self.scenes)

    def parse_data_info(self, info: dict) -> Union[dict, List[dict]]:
        """Join sensor paths with their prefixes; an empty list drops a sample not selected."""
        if not self._selected(info):
            return []
        info['camera_erased'] = info['token'] in self.camera_erased_tokens or info['token'] in self.redacted_tokens
        for sweeps in info.get('radars', {}).values():
            for sweep in sweeps:
                sweep['data_path'] = osp.join(self.data_prefix.get('radar', ''), sweep['data_path'])
        if not self.modality['use_lidar']:
            # LIDAR_TOP is not a detector input here, but its path feeds the depth targets
            info['lidar_points']['lidar_path'] = osp.join(self.data_prefix.get('pts', ''),
                                                          info['lidar_points']['lidar_path'])
            info['lidar_path'] = info['lidar_points']['lidar_path']
        return super().parse_data_info(info)

    def load_data_list(self) -> List[dict]:
        """Load the infos, then check that every requested token and scene was found."""
        data_list = super().load_data_list()
        for kind, wanted, seen in (('sample tokens', self.sample_tokens, self._seen_tokens),
                                   ('camera-erased tokens', self.camera_erased_tokens or None,
                                    self._seen_tokens),
                                   ('scenes', self.scenes, self._seen_scenes)):
            unknown = sorted(wanted - seen) if wanted is not None else []
            if unknown:
                raise ValueError(f'{len(unknown)} {kind} not in {self.ann_file}: {unknown[:5]}'
                                 f'{" ..." if len(unknown) > 5 else ""}')
        if not data_list:
            raise ValueError(f'no sample of {self.ann_file} matches the selection '
                             f'(sample_tokens and scenes select disjoint samples)')
        return data_list
