"""Command-line helpers shared by the tools."""
from argparse import ArgumentParser, Namespace

from mmengine.config import DictAction


class CfgOptions(DictAction):
    """mmengine's ``--cfg-options key=value ...`` action, with a usage error naming a malformed
    pair (mmengine's own raises a bare "not enough values to unpack")."""

    def __call__(self, parser: ArgumentParser, namespace: Namespace, values, option_string=None):
        bad = [v for v in (values or []) if '=' not in v or v.startswith('=')]
        if bad:
            parser.error(f'{option_string or "--cfg-options"}: expected key=value pairs, got {bad}')
        super().__call__(parser, namespace, values, option_string)
