"""Fixtures of the model tests; the helpers themselves live in ``model_fixtures``."""
import pytest

from model_fixtures import make_batch, tiny_model_cfg


@pytest.fixture
def tiny_cfg():
    return tiny_model_cfg()


@pytest.fixture
def batch():
    return make_batch()
