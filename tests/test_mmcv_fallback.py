"""MMPose imports on mmcv-lite thanks to the stand-in ``mmcv._ext``."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

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


def _run_fresh(code: str, tmp_path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


@lite_only
def test_fresh_interpreter_needs_the_plugin_to_import_mmpose_models(
        tmp_path):
    with_plugin = _run_fresh(
        """
        import sys
        import repformer_mmpose
        import mmpose.models
        print('IMPORTED', type(sys.modules['mmcv._ext']).__name__)
        """, tmp_path)
    assert with_plugin.returncode == 0, with_plugin.stderr
    assert with_plugin.stdout.split() == ['IMPORTED', '_MissingExtModule']

    without_plugin = _run_fresh(
        """
        import sys
        try:
            import mmpose.models
        except ModuleNotFoundError as error:
            print('MISSING', error.name)
        else:
            print('IMPORTED')
        print('PLUGIN', 'repformer_mmpose' in sys.modules)
        """, tmp_path)
    assert without_plugin.returncode == 0, without_plugin.stderr
    assert without_plugin.stdout.split() == [
        'MISSING', 'mmcv._ext', 'PLUGIN', 'False'
    ]
