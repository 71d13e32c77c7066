"""Command-line plumbing shared by the tools: user errors in one line with exit status 2, config
files whose syntax errors name the file, and ``--cfg-options`` pairs checked as they are parsed.

A user error is what the tools raise for input they refuse (a missing file, a value out of range,
a checkpoint that does not fit): ``FileNotFoundError``, ``FileExistsError``, ``ValueError``,
``CheckpointError`` and the tool's own classes. :func:`user_errors` prints it as
``<tool>: error: <message>`` and exits with status 2; ``CCU_DEBUG=1`` in the environment lets
the traceback through instead. Any other exception is an internal error and keeps its traceback.
"""
import contextlib
import os
import signal
import sys
from argparse import ArgumentParser, Namespace
from typing import Iterator, Optional, Type

from mmengine.config import Config, DictAction

from .checkpoint import CheckpointError

DEBUG_ENV = 'CCU_DEBUG'
USER_ERRORS = (FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError, ValueError,
               CheckpointError)


class CfgOptions(DictAction):
    """mmengine's ``--cfg-options key=value ...`` action, with a usage error naming a malformed
    pair (mmengine's own raises a bare "not enough values to unpack")."""

    def __call__(self, parser: ArgumentParser, namespace: Namespace, values, option_string=None):
        bad = [v for v in (values or []) if '=' not in v or v.startswith('=')]
        if bad:
            parser.error(f'{option_string or "--cfg-options"}: expected key=value pairs, got {bad}')
        super().__call__(parser, namespace, values, option_string)


@contextlib.contextmanager
def user_errors(tool: str, *extra: Type[BaseException]) -> Iterator[None]:
    """Report a user error (``USER_ERRORS`` and ``extra``) raised inside as one line on stderr and
    exit with status 2 (``SystemExit(2)``); with ``CCU_DEBUG`` set, re-raise it."""
    try:
        yield
    except USER_ERRORS + tuple(extra) as error:
        if os.environ.get(DEBUG_ENV):
            raise
        print(f'{tool}: error: {error}', file=sys.stderr)
        raise SystemExit(2) from error


def load_config(path: str, cfg_options: Optional[dict] = None, what: str = 'config') -> Config:
    """``Config.fromfile`` with ``cfg_options`` merged; a missing file or a syntax error names the
    file and line (mmengine's own says ``<unknown>``)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{what} {path} does not exist')
    try:
        cfg = Config.fromfile(path)
    except SyntaxError as error:
        raise ValueError(f'{what} {path}: line {error.lineno}: {error.msg} (not valid Python)') from error
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that every ``finally`` and ``except
    BaseException`` cleanup runs (the default action of SIGTERM kills the process with none)."""


@contextlib.contextmanager
def sigterm_cleans_up() -> Iterator[None]:
    """Inside, SIGTERM raises :class:`Terminated`; the process then exits with status 143 (128 +
    SIGTERM), as it would have, once the cleanup has run."""
    def handler(signum, frame):
        raise Terminated(f'terminated by signal {signum}')

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except Terminated:
        print('terminated (SIGTERM); temporary output removed', file=sys.stderr)
        raise SystemExit(128 + signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)
