"""Shared fixtures of the test suite."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# Small real samples of each dataset (2 images + an MMPose-style COCO json
# each), kept outside the repository: <repo>/../shared/data/mmpose-fixtures.
FIXTURE_ROOT = REPO_ROOT.parent / 'shared' / 'data' / 'mmpose-fixtures'


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope='session')
def fixture_root() -> Path:
    """The folder holding ``300w/``, ``wflw/``, ``cofw/``, ``aflw/``."""
    return FIXTURE_ROOT


def _fixture_dir_or_skip(name: str) -> Path:
    path = FIXTURE_ROOT / name
    if not (path / f'test_{name}.json').is_file():
        pytest.skip(f'dataset fixture {path}/test_{name}.json not found; '
                    'it lives outside the repository (shared/data)')
    return path


@pytest.fixture(scope='session')
def face300w_fixture() -> Path:
    """The 300W fixture folder (``test_300w.json`` + 2 images)."""
    return _fixture_dir_or_skip('300w')


@pytest.fixture(scope='session')
def fixture_dir():
    """``fixture_dir(name)``: ``FIXTURE_ROOT / name`` (``'300w'``,
    ``'wflw'``, ...), or skip the test if that fixture is absent."""
    return _fixture_dir_or_skip


def _load_tool(name: str) -> ModuleType:
    path = REPO_ROOT / 'tools' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(f'_tools_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def load_tool():
    """``load_tool('train')``: import ``tools/train.py`` (not a package) as
    a module, to call its ``main(argv)``."""
    return _load_tool
