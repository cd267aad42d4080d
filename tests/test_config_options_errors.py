"""A --cfg-options typo is reported as the command line's, not the file's
(issue 13, item 8).

Before, ``tools/train.py``/``tools/test.py`` blamed an unknown ``type``
set by ``--cfg-options`` on the config file, and a misspelt option key
ended in "unexpected keyword argument" naming neither.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmpose.registry import MODELS
from repformer_mmpose.engine import UnknownTypeError, explain_unknown_types
from repformer_mmpose.engine.config_errors import UnknownOptionKeyError

REPO = Path(__file__).resolve().parents[1]
BASE = (REPO / 'configs' / 'repformer' / 'synthface' /
        'repformer_res18-d128_1xb16-6e_synthface-128x128.py')
DETAIL = 'is not in the mmpose::model registry'


def _build(cfg: Config, options: dict, file: str = 'cfg.py'):
    """Merge ``options`` as the tools do, build the model inside
    :func:`explain_unknown_types`, return the error raised."""
    cfg.merge_from_dict(options)
    with pytest.raises((KeyError, TypeError)) as info:
        with explain_unknown_types(cfg, file, options), \
                DefaultScope.overwrite_default_scope('mmpose'):
            MODELS.build(cfg.model)
    return info.value


def test_type_from_the_command_line_is_attributed_to_it():
    error = _build(Config.fromfile(str(BASE)),
                   {'model.neck.type': 'CrossScaleNek',
                    'visualizer.name': 'x'})
    assert isinstance(error, UnknownTypeError)
    assert error.options == ['model.neck.type=CrossScaleNek']
    assert str(error).startswith(
        '--cfg-options model.neck.type=CrossScaleNek (on top of cfg.py): '
        "model.neck.type = 'CrossScaleNek' is not in the mmpose::model "
        'registry: check the spelling, and that the module defining it is '
        'imported (custom_imports). mmengine: CrossScaleNek ' + DETAIL)


def test_type_from_the_file_is_still_the_file_s(tmp_path):
    config = tmp_path / 'typo.py'
    config.write_text(f"_base_ = ['{BASE}']\n"
                      "model = dict(head=dict(type='PTHHeed'))\n")
    error = _build(Config.fromfile(str(config)),
                   {'model.neck.embed_dims': 128}, str(config))
    assert error.options == []
    assert str(error).startswith(
        f"{config}: model.head.type = 'PTHHeed' is not in the mmpose::model")


def test_a_parent_key_option_and_a_file_key_are_told_apart():
    cfg = Config.fromfile(str(BASE))
    cfg.model.head.type = 'Nope'  # as if the file said so
    error = _build(cfg, {'model.neck': {'type': 'Nope'}})
    assert error.keys == ['model.neck.type', 'model.head.type']
    assert str(error).startswith(
        'cfg.py: model.neck.type (set by --cfg-options), model.head.type = '
        "'Nope' is not in the mmpose::model registry")


def test_misspelt_option_key_names_the_option():
    error = _build(Config.fromfile(str(BASE)),
                   {'model.head.embed_dim': 64})
    assert isinstance(error, UnknownOptionKeyError)
    assert isinstance(error, TypeError)
    assert str(error) == (
        '--cfg-options model.head.embed_dim=64 (on top of cfg.py): '
        "PTHHead.__init__() got an unexpected keyword argument 'embed_dim'; "
        'the option adds a key the class does not take: check its spelling')


def test_other_errors_pass_unchanged():
    cfg = Config.fromfile(str(BASE))
    with pytest.raises(KeyError) as info:
        with explain_unknown_types(cfg, 'cfg.py', {'a.b': 1}):
            raise KeyError('something else')
    assert type(info.value) is KeyError
    with pytest.raises(TypeError) as info:
        with explain_unknown_types(cfg, 'cfg.py', {'a.b': 1}):
            raise TypeError("f() got an unexpected keyword argument 'c'")
    assert type(info.value) is TypeError


def test_test_tool_attributes_the_option(tmp_path, load_tool):
    checkpoint = tmp_path / 'empty.pth'
    checkpoint.write_bytes(b'')  # never read: the build fails first
    with pytest.raises(UnknownTypeError) as info:
        load_tool('test').main([
            str(BASE), str(checkpoint), '--work-dir', str(tmp_path),
            '--cfg-options', 'model.head.type=PTHHeed',
            'visualizer.name=vis_option_typo_test'])
    assert str(info.value).startswith(
        f'--cfg-options model.head.type=PTHHeed (on top of {BASE}): '
        "model.head.type = 'PTHHeed' is not in the mmpose::model registry")
