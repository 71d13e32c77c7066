"""The takedown suite: the takedowns a benchmark runs, and the seeds of its visual retrains.

A suite file (``configs/takedowns/suite.py``) is an mmengine config holding ``takedowns``, one
``dict(name, kind, role, request)`` per takedown (``request``: the path of a request file, as
written, relative to the working directory), and ``reference_seeds``. Exactly one takedown has
role 'development' (settings are chosen on it, it is never reported); the others are 'reported'.
"""
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from mmengine.config import Config

from ..datasets import TakedownRequest

ROLES = ('development', 'reported')
# the keys of a takedown entry of a suite file
ENTRY_KEYS = ('name', 'kind', 'role', 'request')
# the top-level keys of a suite file
SUITE_KEYS = ('takedowns', 'reference_seeds')


@dataclass(frozen=True)
class SuiteTakedown:
    """One takedown of a suite.

    Args:
        name: the takedown's name, unique in its suite.
        kind: what sort of takedown it is (e.g. 'whole location'), for reports.
        role: 'development' or 'reported'.
        request: path of its request file (``TakedownRequest`` fields, YAML or JSON).
    """
    name: str
    kind: str
    role: str
    request: str

    def load_request(self) -> TakedownRequest:
        """The takedown request its request file holds."""
        return TakedownRequest.from_file(self.request)


@dataclass(frozen=True)
class Suite:
    """A takedown suite, as :func:`load_suite` read and checked it.

    Args:
        takedowns: the takedowns, in the suite file's order.
        reference_seeds: training seeds of the visual retrains (the references).
        source: the suite file it was read from.
    """
    takedowns: Tuple[SuiteTakedown, ...]
    reference_seeds: Tuple[int, ...]
    source: str = ''

    def development(self) -> SuiteTakedown:
        """The development takedown (the one settings are chosen on)."""
        found = self.pick(role='development')
        if len(found) != 1:
            raise ValueError(f'suite {self.source}: expected exactly one development takedown, got {len(found)}')
        return found[0]

    def reported(self) -> Tuple[SuiteTakedown, ...]:
        """The takedowns whose results are reported, in suite order."""
        return self.pick(role='reported')

    def pick(self, names: Optional[Sequence[str]] = None, role: Optional[str] = None) -> Tuple[SuiteTakedown, ...]:
        """Takedowns by name and/or role.

        Args:
            names: the takedowns to pick, in this order (a name given twice is picked once);
                None: every takedown, in suite order.
            role: only takedowns of this role; a named takedown of another role is an error.

        Returns:
            The picked takedowns.

        Raises:
            ValueError: an unknown name or role, or a named takedown not of ``role``.
        """
        if role is not None and role not in ROLES:
            raise ValueError(f'suite {self.source}: unknown role {role!r}; roles are {list(ROLES)}')
        if isinstance(names, str):
            raise TypeError(f'takedown names must be a sequence of strings, got the string {names!r}')
        by_name = {t.name: t for t in self.takedowns}
        if names is None:
            picked = list(self.takedowns)
        else:
            unknown = [n for n in names if n not in by_name]
            if unknown:
                raise ValueError(f'suite {self.source} has no takedown {unknown}; its takedowns are '
                                 f'{list(by_name)}')
            picked = [by_name[n] for n in dict.fromkeys(names)]
        if role is None:
            return tuple(picked)
        if names is not None:
            other = [t.name for t in picked if t.role != role]
            if other:
                raise ValueError(f'suite {self.source}: takedowns {other} are not {role!r} takedowns')
        return tuple(t for t in picked if t.role == role)


def load_suite(path: str) -> Suite:
    """Read and check a suite file; every request file is loaded once to check it.

    Args:
        path: the suite file (an mmengine config).

    Returns:
        The suite.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: an unknown top-level key; ``takedowns`` missing or not a list of entries; an
            entry with a missing or unknown key, a non-string value, an unknown role, a duplicate
            name, or a request file that does not exist or does not load; not exactly one
            development takedown, or no reported one; ``reference_seeds`` missing, empty, not
            integers, or with a seed given twice.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'takedown suite file {path} does not exist')
    cfg = Config.fromfile(path)
    unknown = sorted(set(cfg.keys()) - set(SUITE_KEYS))
    if unknown:
        raise ValueError(f'takedown suite {path}: unknown keys {unknown}; a suite file has {list(SUITE_KEYS)}')
    entries = cfg.get('takedowns', None)
    if not isinstance(entries, (list, tuple)) or not entries:
        raise ValueError(f'takedown suite {path}: `takedowns` must be a non-empty list of '
                         f'dict({", ".join(ENTRY_KEYS)}), got {entries!r}')
    takedowns: List[SuiteTakedown] = []
    for index, entry in enumerate(entries):
        takedown = _takedown(entry, f'takedown suite {path}, takedown {index}')
        names = [t.name for t in takedowns]
        if takedown.name in names:
            raise ValueError(f'takedown suite {path}, takedown {index} ({takedown.name!r}): the name '
                             f'{takedown.name!r} is already taken by takedown {names.index(takedown.name)}')
        takedowns.append(takedown)
    development = [t.name for t in takedowns if t.role == 'development']
    if len(development) != 1:
        raise ValueError(f'takedown suite {path}: exactly one takedown must have role \'development\', '
                         f'got {len(development)}: {development}')
    if not any(t.role == 'reported' for t in takedowns):
        raise ValueError(f'takedown suite {path}: no takedown has role \'reported\'; a suite reports at least one')
    return Suite(takedowns=tuple(takedowns), reference_seeds=_seeds(cfg.get('reference_seeds', None), path),
                 source=path)


def _takedown(entry: object, source: str) -> SuiteTakedown:
    """One checked entry of ``takedowns``; its request file is loaded to check it."""
    if not isinstance(entry, dict):
        raise ValueError(f'{source}: expected dict({", ".join(ENTRY_KEYS)}), got {entry!r}')
    if isinstance(entry.get('name'), str):
        source = f'{source} ({entry["name"]!r})'
    missing = [k for k in ENTRY_KEYS if k not in entry]
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    if missing or unknown:
        raise ValueError(f'{source}: ' + '; '.join(
            ([f'missing keys {missing}'] if missing else []) + ([f'unknown keys {unknown}'] if unknown else []))
            + f'; a takedown entry has {list(ENTRY_KEYS)}')
    not_str = [k for k in ENTRY_KEYS if not isinstance(entry[k], str) or not entry[k]]
    if not_str:
        raise ValueError(f'{source}: {not_str} must be non-empty strings, got '
                         f'{ {k: entry[k] for k in not_str} }')
    if entry['role'] not in ROLES:
        raise ValueError(f'{source}: unknown role {entry["role"]!r}; roles are {list(ROLES)}')
    takedown = SuiteTakedown(**{k: entry[k] for k in ENTRY_KEYS})
    if not osp.isfile(takedown.request):
        raise ValueError(f'{source}: request file {takedown.request} does not exist (request paths are '
                         'relative to the working directory)')
    try:
        takedown.load_request()
    except (ValueError, TypeError) as error:
        raise ValueError(f'{source}: request file {takedown.request} does not load: {error}') from error
    return takedown


def _seeds(seeds: object, path: str) -> Tuple[int, ...]:
    """``reference_seeds``, checked: a non-empty list of distinct integers."""
    if not isinstance(seeds, (list, tuple)) or not seeds:
        raise ValueError(f'takedown suite {path}: `reference_seeds` must be a non-empty list of integers, '
                         f'got {seeds!r}')
    bad = [s for s in seeds if not isinstance(s, int) or isinstance(s, bool)]
    if bad:
        raise ValueError(f'takedown suite {path}: reference_seeds must be integers, got {bad}')
    repeated = sorted({s for s in seeds if list(seeds).count(s) > 1})
    if repeated:
        raise ValueError(f'takedown suite {path}: reference_seeds {repeated} are given more than once')
    return tuple(seeds)
