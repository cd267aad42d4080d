"""MMPose imports on mmcv-lite thanks to the stand-in ``mmcv._ext``.

The plugin registers the stand-in when imported; the start-up hook that the
package's install puts in site-packages (``_repformer_mmcv_ext.py`` and its
``.pth`` file) makes it available to scripts that import MMPose first.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from pathlib import Path

import pytest
import torch

import _repformer_mmcv_ext
import repformer_mmpose  # noqa: F401  (installs the fallback)
from repformer_mmpose.utils import (MissingMMCVOpError, has_compiled_mmcv_ops,
                                    install_mmcv_ops_fallback)
from repformer_mmpose.utils.mmcv_ops_fallback import EXT_NAME

lite_only = pytest.mark.skipif(
    has_compiled_mmcv_ops(),
    reason='a compiled mmcv._ext is installed (full mmcv): the fallback '
    'stays out of the way and these mmcv-lite checks do not apply')


@lite_only
def test_this_install_has_no_compiled_ops():
    assert has_compiled_mmcv_ops() is False
    from mmcv.utils import ext_loader

    # the stand-in does not pretend to be the compiled extension
    assert ext_loader.check_ops_exist() is False
    assert type(sys.modules[EXT_NAME]).__name__ == '_MissingExtModule'


@lite_only
def test_mmpose_models_import_after_the_plugin():
    import mmpose.models
    from mmpose.registry import MODELS

    assert mmpose.models.TopdownPoseEstimator is MODELS.get(
        'TopdownPoseEstimator')
    # the head that pulls in mmcv.ops imported too
    assert MODELS.get('EDPoseHead') is not None
    assert MODELS.get('PTHHead').__module__.startswith('repformer_mmpose')
    assert MODELS.get('CrossScaleNeck').__module__.startswith(
        'repformer_mmpose')


@lite_only
@pytest.mark.parametrize('op, call', [
    ('nms', lambda ops: ops.nms(
        torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.]]),
        torch.tensor([0.9, 0.8]), 0.5)),
    ('roi_align_forward', lambda ops: ops.roi_align(
        torch.rand(1, 1, 8, 8), torch.tensor([[0., 0., 0., 4., 4.]]),
        (2, 2))),
])
def test_calling_a_compiled_op_raises_a_clear_error(op, call):
    import mmcv.ops

    with pytest.raises(MissingMMCVOpError) as info:
        call(mmcv.ops)
    message = str(info.value)
    assert repr(op) in message  # the op's name
    assert 'mmcv._ext' in message and 'mmcv-lite' in message
    assert 'install the full mmcv 2.1.0' in message
    assert isinstance(info.value, RuntimeError)


@lite_only
def test_stand_in_answers_only_op_names():
    ext = sys.modules[EXT_NAME]
    assert ext.nms.__name__ == 'nms'
    assert not hasattr(ext, '__file__')
    with pytest.raises(MissingMMCVOpError, match="'anything'"):
        ext.anything()


@lite_only
def test_install_is_idempotent():
    before = sys.modules[EXT_NAME]
    assert install_mmcv_ops_fallback() is True
    assert install_mmcv_ops_fallback() is True
    assert sys.modules[EXT_NAME] is before
    assert has_compiled_mmcv_ops() is False


REPO = Path(__file__).resolve().parents[1]
NOT_INSTALLED = (
    'the start-up hook is not installed in this environment '
    f'({sys.executable}): reinstall the plugin (`pip install -e .`, or '
    '`bash tools/setup_env.sh`)')


def _run_fresh(code: str, tmp_path, *options: str,
               source: bool = False) -> subprocess.CompletedProcess:
    """``code`` in a new interpreter of this environment, from ``tmp_path``
    (so nothing is imported from the repository unless ``source``: then
    the repository root is on PYTHONPATH, for the hook's own module)."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('PYTHONPATH', None)
    if source:
        env['PYTHONPATH'] = str(REPO)
    return subprocess.run(
        [sys.executable, *options, '-c', textwrap.dedent(code)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)


def test_setup_installed_the_startup_hook(tmp_path):
    status = _run_fresh(
        """
        import sys
        import _repformer_mmcv_ext as hook
        print(hook.MMCVExtFinder in sys.meta_path)
        sys.exit(hook.main(['status']))
        """, tmp_path)
    assert status.returncode == 0, f'{NOT_INSTALLED}\n{status.stdout}' \
        f'{status.stderr}'
    assert status.stdout.split()[:2] == ['True', 'installed:']


@lite_only
def test_script_may_import_mmpose_apis_first(tmp_path):
    """What a new user's script does: MMPose's APIs, no plugin import."""
    result = _run_fresh(
        """
        import sys
        HEAVY = ('numpy', 'torch', 'mmcv', 'mmengine', 'mmpose',
                 'repformer_mmpose')
        print('AT_START', [m for m in HEAVY if m in sys.modules])
        from mmpose.apis import MMPoseInferencer, inference_topdown
        import mmpose.models
        print('IMPORTED', type(sys.modules['mmcv._ext']).__name__)
        print('PLUGIN', 'repformer_mmpose' in sys.modules)
        from mmcv.utils import ext_loader
        print('OPS', ext_loader.check_ops_exist())
        """, tmp_path)
    assert result.returncode == 0, f'{NOT_INSTALLED}\n{result.stderr}'
    assert result.stdout.split() == [
        'AT_START', '[]', 'IMPORTED', '_MissingExtModule', 'PLUGIN', 'False',
        'OPS', 'False'
    ]


@lite_only
def test_without_the_hook_mmpose_models_needs_the_plugin(tmp_path):
    code = """
        import sys
        import _repformer_mmcv_ext
        _repformer_mmcv_ext.uninstall()  # as if never installed
        {plugin}
        try:
            import mmpose.models
        except ModuleNotFoundError as error:
            print('MISSING', error.name)
        else:
            print('IMPORTED', type(sys.modules['mmcv._ext']).__name__)
        """
    with_plugin = _run_fresh(
        code.format(plugin='import repformer_mmpose'), tmp_path, source=True)
    assert with_plugin.returncode == 0, with_plugin.stderr
    assert with_plugin.stdout.split() == ['IMPORTED', '_MissingExtModule']

    without_plugin = _run_fresh(code.format(plugin=''), tmp_path,
                                source=True)
    assert without_plugin.returncode == 0, without_plugin.stderr
    assert without_plugin.stdout.split() == ['MISSING', 'mmcv._ext']


@lite_only
def test_hook_and_plugin_share_one_stand_in(tmp_path):
    """MMPose first, the plugin after: one fallback module, whose error
    class the stand-in raises, bound in ``repformer_mmpose.utils``."""
    result = _run_fresh(
        """
        import _repformer_mmcv_ext
        _repformer_mmcv_ext.install()
        import mmcv.ops
        import repformer_mmpose.utils as utils
        from repformer_mmpose.utils import mmcv_ops_fallback
        print(utils.mmcv_ops_fallback is mmcv_ops_fallback,
              utils.has_compiled_mmcv_ops())
        import torch
        try:
            mmcv.ops.nms(torch.tensor([[0., 0., 9., 9.]]),
                         torch.tensor([0.9]), 0.5)
        except utils.MissingMMCVOpError as error:
            print('RAISED', 'nms' in str(error))
        """, tmp_path, source=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['True', 'False', 'RAISED', 'True']


@lite_only  # a real compiled mmcv._ext would be found before the fake
def test_a_compiled_ext_is_left_alone(tmp_path):
    """With a full mmcv the path finder finds ``mmcv._ext`` first: the
    hook's finder is never asked and the plugin keeps the real module."""
    compiled = tmp_path / 'compiled'
    compiled.mkdir()
    # every op a loader asks for exists and answers "real"
    (compiled / '_ext.py').write_text(
        'def __getattr__(name):\n'
        '    if name.startswith("__"):\n'
        '        raise AttributeError(name)\n'
        '    return lambda *args: "real"\n')
    result = _run_fresh(
        f"""
        import sys
        import _repformer_mmcv_ext
        _repformer_mmcv_ext.install()
        import mmcv
        mmcv.__path__.append({str(compiled)!r})  # stands for the .so
        import mmcv._ext
        print(mmcv._ext.nms(), {_repformer_mmcv_ext.FALLBACK_MODULE!r}
              in sys.modules)
        from repformer_mmpose.utils import has_compiled_mmcv_ops
        print(has_compiled_mmcv_ops(), type(sys.modules['mmcv._ext']))
        """, tmp_path, source=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        'real', 'False', 'True', "<class", "'module'>"
    ]


def test_pth_file_installs_and_removes_the_hook(tmp_path):
    site_dir = tmp_path / 'site'
    site_dir.mkdir()
    assert _repformer_mmcv_ext.main(
        ['install', '--site-dir', str(site_dir)]) == 0
    pth = site_dir / _repformer_mmcv_ext.PTH_NAME
    assert pth.read_text() == _repformer_mmcv_ext.PTH_TEXT
    assert _repformer_mmcv_ext.main(
        ['status', '--site-dir', str(site_dir)]) == 0
    # -S: no site-packages, so only this folder's .pth can add the finder
    code = f"""
        import site, sys
        site.addsitedir({str(site_dir)!r})
        print([getattr(f, '__name__', '') for f in sys.meta_path][-1])
        """
    hooked = _run_fresh(code, tmp_path, '-S', source=True)
    assert hooked.returncode == 0 and not hooked.stderr, hooked.stderr
    assert hooked.stdout.split() == ['MMCVExtFinder']

    assert _repformer_mmcv_ext.main(
        ['remove', '--site-dir', str(site_dir)]) == 0
    assert not pth.exists()
    assert _repformer_mmcv_ext.main(
        ['status', '--site-dir', str(site_dir)]) == 1
    plain = _run_fresh(code, tmp_path, '-S', source=True)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.split() != ['MMCVExtFinder']


def test_pth_left_behind_by_an_uninstall_is_silent(tmp_path):
    site_dir = tmp_path / 'site'
    site_dir.mkdir()
    _repformer_mmcv_ext.main(['install', '--site-dir', str(site_dir)])
    # the repository is not on the path: the module is "uninstalled"
    result = _run_fresh(
        f"""
        import site, sys
        site.addsitedir({str(site_dir)!r})
        print('STARTED', '_repformer_mmcv_ext' in sys.modules)
        """, tmp_path, '-S')
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['STARTED', 'False']
    assert result.stderr == ''  # no "Error processing line" at start-up
