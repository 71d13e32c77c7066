"""Size and realism knobs of the synthetic nuScenes-format dataset."""
from dataclasses import asdict, dataclass
from typing import Tuple

# The four nuScenes locations; every synthetic location has its own camera look.
NUSCENES_LOCATIONS = ('singapore-onenorth', 'boston-seaport', 'singapore-queenstown', 'singapore-hollandvillage')


@dataclass(frozen=True)
class SyntheticNuScenesConfig:
    """What to write. The defaults make the small dataset the detector pretrains on in minutes.

    Args:
        version: name of the table folder, also passed to ``NuScenes(version=...)``.
        locations: locations (logs) to write; names from ``NUSCENES_LOCATIONS``.
        train_scenes_per_location: training scenes of each location.
        val_scenes_per_location: validation scenes of each location.
        samples_per_scene: key frames (2 Hz) per scene.
        image_width: camera image width in pixels.
        image_height: camera image height in pixels.
        radar_sweeps_per_interval: radar sweeps per key-frame interval (0.5 s) and radar.
        radar_lead_sweeps: radar sweeps written before the first key frame of a scene, so the
            first samples have multi-sweep history too.
        radar_return_scale: factor on every object's mean radar returns per sweep.
        radar_clutter_rate: mean clutter returns per radar sweep.
        max_range: lidar and radar range in metres; boxes beyond it get no points.
        lidar_beams: LIDAR_TOP beams (HDL-32E-like elevations).
        lidar_azimuth_steps: LIDAR_TOP azimuth samples per sweep.
        objects_per_scene: (min, max) annotated objects in a scene.
        takedown_location: the location whose training scenes the default takedown flags.
        jpeg_quality: JPEG quality of the camera images.
        private_sites: private sites per location (the default dataset has one per location;
            0: none). A site is a stretch of road with a camera look that exists nowhere else; it
            appears only in training scenes of its location, listed in ``splits.json`` as
            ``synthetic_site_<site>`` (the takedown suite's private-site takedown flags one).
        site_scenes: training scenes each private site appears in (one site per scene).
    """
    version: str = 'v1.0-synthetic'
    locations: Tuple[str, ...] = NUSCENES_LOCATIONS
    train_scenes_per_location: int = 60
    val_scenes_per_location: int = 5
    samples_per_scene: int = 8
    image_width: int = 176
    image_height: int = 96
    radar_sweeps_per_interval: int = 3
    radar_lead_sweeps: int = 6
    radar_return_scale: float = 2.5
    radar_clutter_rate: float = 8.0
    max_range: float = 25.0
    lidar_beams: int = 32
    lidar_azimuth_steps: int = 540
    objects_per_scene: Tuple[int, int] = (28, 40)
    takedown_location: str = 'singapore-hollandvillage'
    jpeg_quality: int = 90
    private_sites: int = 1
    site_scenes: int = 3

    def __post_init__(self):
        if not self.version or '/' in self.version:
            raise ValueError(f'SyntheticNuScenesConfig.version must be a folder name, got {self.version!r}')
        if self.version.endswith(('trainval', 'mini', 'test')):
            raise ValueError(f'SyntheticNuScenesConfig.version {self.version!r} ends like a real nuScenes '
                             'version; the devkit would then check its splits against the real scene lists')
        if not self.locations or len(set(self.locations)) != len(self.locations):
            raise ValueError(f'SyntheticNuScenesConfig.locations must be distinct names, got {self.locations!r}')
        unknown = [loc for loc in self.locations if loc not in NUSCENES_LOCATIONS]
        if unknown:
            raise ValueError(f'SyntheticNuScenesConfig.locations: unknown {unknown}; expected names from '
                             f'{NUSCENES_LOCATIONS}')
        if self.takedown_location not in self.locations:
            raise ValueError(f'SyntheticNuScenesConfig.takedown_location {self.takedown_location!r} is not one '
                             f'of locations {self.locations}')
        for name in ('train_scenes_per_location', 'val_scenes_per_location', 'radar_sweeps_per_interval',
                     'lidar_beams', 'lidar_azimuth_steps'):
            if int(getattr(self, name)) < 1:
                raise ValueError(f'SyntheticNuScenesConfig.{name} must be >= 1, got {getattr(self, name)}')
        if self.samples_per_scene < 2:
            raise ValueError('SyntheticNuScenesConfig.samples_per_scene must be >= 2 (velocities need two '
                             f'annotations), got {self.samples_per_scene}')
        if self.radar_lead_sweeps < 0:
            raise ValueError(f'SyntheticNuScenesConfig.radar_lead_sweeps must be >= 0, got {self.radar_lead_sweeps}')
        if self.image_width < 16 or self.image_height < 16:
            raise ValueError('SyntheticNuScenesConfig image size must be at least 16x16, got '
                             f'{self.image_width}x{self.image_height}')
        if not 5.0 <= self.max_range <= 60.0:
            raise ValueError(f'SyntheticNuScenesConfig.max_range must be in [5, 60] m, got {self.max_range}')
        low, high = self.objects_per_scene
        if not 1 <= low <= high:
            raise ValueError(f'SyntheticNuScenesConfig.objects_per_scene must be (min, max) with 1 <= min <= max, '
                             f'got {self.objects_per_scene}')
        if self.radar_return_scale < 0 or self.radar_clutter_rate < 0:
            raise ValueError('SyntheticNuScenesConfig.radar_return_scale and radar_clutter_rate must be >= 0')
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f'SyntheticNuScenesConfig.jpeg_quality must be in [1, 100], got {self.jpeg_quality}')
        if self.private_sites < 0 or self.site_scenes < 1:
            raise ValueError('SyntheticNuScenesConfig.private_sites must be >= 0 and site_scenes >= 1, got '
                             f'{self.private_sites} and {self.site_scenes}')
        if self.private_sites * self.site_scenes > self.train_scenes_per_location:
            raise ValueError(f'SyntheticNuScenesConfig: {self.private_sites} private sites x {self.site_scenes} '
                             f'scenes each need {self.private_sites * self.site_scenes} training scenes per location '
                             '(a scene shows at most one site), got train_scenes_per_location='
                             f'{self.train_scenes_per_location}; a small dataset without sites: private_sites=0')

    def record(self) -> dict:
        """The config as a plain dict, for ``synthetic_meta.json``.

        Without private sites their two fields are left out, so a site-less dataset's files stay
        byte-identical to those written before sites existed.
        """
        record = asdict(self)
        if not self.private_sites:
            del record['private_sites'], record['site_scenes']
        return record
