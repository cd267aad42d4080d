"""Shared fixtures of the test suite."""
from __future__ import annotations

import importlib.util
import itertools
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

# 2 cores: one intra-op thread per process measured fastest for this suite;
# set before any test imports torch (subprocesses inherit it)
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MKL_NUM_THREADS', '1')

REPO_ROOT = Path(__file__).resolve().parents[1]
# Small real samples of each dataset (2 images + an MMPose-style COCO json
# each), research-only, kept outside the repository:
# <repo>/../shared/data/mmpose-fixtures, or $MMPOSE_FIXTURES.
FIXTURE_ROOT = Path(
    os.environ.get('MMPOSE_FIXTURES',
                   REPO_ROOT.parent / 'shared' / 'data' / 'mmpose-fixtures'))
# Missing data is a failure, not a skip, with this set to 1 or under CI
# (CI=true, as CI runs .ci/run), so CI cannot pass by skipping.
REQUIRE_DATA_ENV = 'REPFORMER_REQUIRE_DATA'


def data_required() -> bool:
    return os.environ.get(REQUIRE_DATA_ENV) == '1' or \
        os.environ.get('CI') == 'true'


_TOY_RUNS = itertools.count()


def toy_runner(work_dir: Path, model, dataset, *, train_cfg: dict,
               checkpoint, custom_hooks: list, resume: bool = False,
               workers: int = 0, persistent: bool = False):
    """An mmengine ``Runner`` around a toy ``model`` and ``dataset`` (SGD
    0.1, batch 2, shuffled, seed 0) with the given checkpoint hook and
    custom hooks: the engine tests' runner, seconds on one CPU thread."""
    from mmengine.runner import Runner

    # unique: mmengine's loggers and visualisers are global by name
    name = f'toy_{os.getpid()}_{next(_TOY_RUNS)}'
    return Runner(
        model=model,
        work_dir=str(work_dir),
        experiment_name=name,
        visualizer=dict(type='Visualizer', name=name),
        train_dataloader=dict(
            dataset=dataset,
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=2, num_workers=workers,
            persistent_workers=persistent),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=train_cfg,
        default_hooks=dict(checkpoint=checkpoint),
        custom_hooks=custom_hooks,
        randomness=dict(seed=0),
        resume=resume)


def missing_data(reason: str) -> None:
    """Skip a test whose data is absent (fail where :func:`data_required`,
    so CI cannot pass by skipping)."""
    if data_required():
        pytest.fail(f'{reason} ({REQUIRE_DATA_ENV}=1 or CI=true)')
    pytest.skip(reason)


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
        missing_data(f'dataset fixture {path}/test_{name}.json not found; '
                     'it lives outside the repository (shared/data); set '
                     'MMPOSE_FIXTURES to its folder')
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
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def load_tool():
    """``load_tool('train')``: import ``tools/train.py`` (not a package) as
    a module, to call its ``main(argv)``."""
    return _load_tool


@pytest.fixture(autouse=True)
def _keep_the_default_scope():
    """A test that creates an mmengine ``DefaultScope`` (a Runner, a
    scope typo test) leaves the one that was current before it current
    again, so that no test depends on the order the tests run in."""
    from mmengine.registry import DefaultScope
    before = (DefaultScope.get_current_instance()
              if DefaultScope._instance_dict else None)
    yield
    if before is not None and before.instance_name in \
            DefaultScope._instance_dict:
        DefaultScope._instance_dict.move_to_end(before.instance_name)


@pytest.fixture(scope='session')
def tiny_model(tmp_path_factory):
    """``(config, checkpoint)`` of a random-init RePFormer at 64x64 input,
    d_model 32 (fast), 68 points (the demo and detector tests)."""
    from mmengine.config import Config

    folder = tmp_path_factory.mktemp('tiny')
    cfg = Config.fromfile(str(
        REPO_ROOT / 'configs' / 'repformer' / 'synthface' /
        'repformer_res18-d128_1xb16-6e_synthface-128x128.py'))
    cfg.model.neck.update(embed_dims=32, num_heads=2, ffn_dims=64)
    cfg.model.head.update(
        embed_dims=32, num_heads=2, ffn_dims=64, predictor_dims=32,
        initial_memory_size=(2, 2),
        decoder=dict(type='DLRLabel', input_size=(64, 64)))
    for transform in cfg.test_dataloader.dataset.pipeline:
        if transform['type'] == 'TopdownAffine':
            transform['input_size'] = (64, 64)
    return _random_model(cfg, folder / 'tiny')


def _random_model(cfg, stem: Path) -> tuple[str, str]:
    """``(config, checkpoint)`` files ``stem.py`` / ``stem.pth`` of a
    random-init model of ``cfg`` (seed 0)."""
    import torch

    from repformer_mmpose.apis import init_face_model
    config = f'{stem}.py'
    cfg.dump(config)
    torch.manual_seed(0)
    model = init_face_model(config)
    checkpoint = f'{stem}.pth'
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': model.dataset_meta}}, checkpoint)
    return config, checkpoint


@pytest.fixture(scope='session')
def tiny_model_without_confidence(tiny_model, tmp_path_factory):
    """The suite's tiny random-init model without the confidence branch:
    every keypoint score is then 1 (the branch's scores of a trained
    model are tested in test_uncertainty.py; a random one scores ~0)."""
    from mmengine.config import Config
    cfg = Config.fromfile(tiny_model[0])
    cfg.model.head.uncertainty = None
    return _random_model(cfg, tmp_path_factory.mktemp('tiny_plain') /
                         'tiny_plain')
