"""MMPose's own tools/train.py trains with our configs (custom_imports),
with ``--amp`` too: the configs keep mmengine's standard ``OptimWrapper``,
which that flag requires, and ``NonFiniteLossHook`` guards it."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper, build_optim_wrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmengine.registry import DefaultScope

import mmpose
from repformer_mmpose.datasets.synthface import generate_synthface

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MMPOSE_TRAIN = osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools',
                        'train.py')
CONFIG = osp.join(REPO, 'configs', 'repformer', 'synthface',
                  'repformer_res18-d128_1xb16-6e_synthface-128x128.py')
# every config a user may train: configs/ and the projects' configs
TRAIN_CONFIGS = sorted(
    path for path in [*Path(REPO, 'configs').glob('**/*.py'),
                      *Path(REPO, 'projects').glob('*/configs/**/*.py')]
    if '_base_' not in path.parts)
TRAIN_CONFIG_IDS = [path.relative_to(REPO).as_posix()
                    for path in TRAIN_CONFIGS]
# mmengine's AmpOptimWrapper refuses to be built without a GPU
AMP_CPU_REFUSAL = 'only available training on gpu'

needs_mmpose_tools = pytest.mark.skipif(
    not osp.isfile(MMPOSE_TRAIN),
    reason=f'MMPose was installed without its tools ({MMPOSE_TRAIN})')


def _run_mmpose_train(tmp_path: Path, *options: str,
                      train_batch: int = 8) -> subprocess.CompletedProcess:
    """MMPose's train script on the SynthFace config, one epoch of 16
    generated faces, from outside the repository (only custom_imports
    brings the plugin in)."""
    data_root = tmp_path / 'synthface'
    generate_synthface(
        str(data_root), num_train=16, num_test=8, seed=1, verbose=False)
    root = f'{data_root}/'
    command = [
        sys.executable, MMPOSE_TRAIN, CONFIG, '--work-dir',
        str(tmp_path / 'work'), *options, '--cfg-options',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
        f'train_dataloader.batch_size={train_batch}',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}'
    ]
    return subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            **os.environ, 'OMP_NUM_THREADS': '1'
        },
        timeout=600)


def _mmpose_train_module():
    """MMPose's tools/train.py as a module (it is not a package's)."""
    spec = importlib.util.spec_from_file_location('mmpose_tools_train',
                                                  MMPOSE_TRAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_mmpose_tools
def test_mmpose_train_script_runs_our_config(tmp_path):
    result = _run_mmpose_train(tmp_path)
    work_dir = tmp_path / 'work'
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert 'loss_stage3' in log and 'NME:' in log
    assert (work_dir / 'epoch_1.pth').is_file()


@needs_mmpose_tools
@pytest.mark.parametrize('config', TRAIN_CONFIGS, ids=TRAIN_CONFIG_IDS)
def test_mmpose_amp_flag_accepts_our_configs(config, tmp_path, monkeypatch):
    """MMPose's ``--amp`` code (its ``parse_args`` and ``merge_args``)
    accepts the config's wrapper, and mmengine builds the result."""
    train = _mmpose_train_module()
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setattr(sys, 'argv', [
        MMPOSE_TRAIN, str(config), '--amp', '--work-dir',
        str(tmp_path)
    ])
    cfg = train.merge_args(Config.fromfile(str(config)), train.parse_args())
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    # the guard stays configured; under AMP it leaves the loss scale in
    # charge (tests/test_nonfinite_loss.py)
    assert any(hook.type == 'NonFiniteLossHook'
               for hook in cfg.custom_hooks)
    # AmpOptimWrapper takes every key the config gives it. Without a GPU
    # mmengine refuses to build it: the check is lifted here, and torch's
    # GradScaler then disables itself (the AMP step itself needs a GPU:
    # test_mmpose_train_script_with_amp)
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    with DefaultScope.overwrite_default_scope('mmpose'), \
            warnings.catch_warnings():
        warnings.simplefilter('ignore')
        wrapper = build_optim_wrapper(torch.nn.Linear(2, 2),
                                      cfg.optim_wrapper)
    assert type(wrapper) is AmpOptimWrapper


@needs_mmpose_tools
def test_mmpose_train_script_with_amp(tmp_path):
    """With a GPU: one epoch of AMP training. Without one: MMPose's script
    gets past its optimizer-wrapper check and builds the Runner, data and
    model; mmengine then refuses AmpOptimWrapper on a CPU."""
    result = _run_mmpose_train(tmp_path, '--amp')
    log = result.stdout + result.stderr
    assert '`--amp` is not supported' not in log  # MMPose's wrapper check
    if torch.cuda.is_available():
        assert result.returncode == 0, result.stderr[-3000:]
        assert 'AmpOptimWrapper' in log and 'loss_stage3' in log
        assert 'no finite-loss guard is installed' in log
        assert (tmp_path / 'work' / 'epoch_1.pth').is_file()
    else:
        assert result.returncode != 0
        assert AMP_CPU_REFUSAL in result.stderr, result.stderr[-3000:]
        assert 'build_optim_wrapper' in result.stderr  # in Runner.train
