"""Pickles are read without running code from them (issue 13, item 2).

Every pickle the project reads goes through
``repformer_mmpose.utils.safe_pickle.load_restricted_pickle``: the report
(``load_dump``/``evaluate_dump``, ``tools/analysis/report.py --run``, the
ablation runner), ``tools/analysis/nme_by_source.py`` and the main job's
drawing.
"""
from __future__ import annotations

import collections
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from repformer_mmpose.apis import init_face_model
from repformer_mmpose.evaluation import report
from repformer_mmpose.utils.safe_pickle import (PickleReadError,
                                                UnsafePickleError,
                                                load_restricted_pickle)

CONFIG = ('configs/repformer/300w/'
          'repformer_res18-d128_1xb16-15e_300w-subset-128x128.py')


class Payload:
    """Pickles as ``os.system('touch MARKER')``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def _sample(extra=None) -> dict:
    gt = np.zeros((1, 68, 2), np.float32)
    gt[0, 45] = (100., 0.)
    sample = dict(img_path='/data/helen_1.png', dataset_name='300w',
                  gt_instances=dict(keypoints=gt,
                                    keypoints_visible=np.ones((1, 68))),
                  pred_instances=dict(keypoints=gt + 1.))
    sample.update(extra or {})
    return sample


def _write(path: Path, content, protocol: int = 2) -> str:
    with open(path, 'wb') as f:
        pickle.dump(content, f, protocol=protocol)
    return str(path)


def test_crafted_dump_is_refused_and_never_run(tmp_path, load_tool,
                                               repo_root):
    marker = tmp_path / 'marker'
    evil = _write(tmp_path / 'predictions.pkl',
                  [_sample(dict(meta=Payload(marker)))])
    message = (f'{evil}: refused to unpickle the global posix.system; a '
               'predictions dump holds only numpy arrays')
    with pytest.raises(UnsafePickleError) as info:
        report.evaluate_dump(evil)
    assert str(info.value).startswith(message)
    assert '\n' not in str(info.value)
    # the report tool's --run DIR path (what the probe used)
    (tmp_path / 'run.json').write_text(json.dumps(dict(
        model='m', dataset='300W', predictions=evil, metric={})))
    with pytest.raises(UnsafePickleError, match='posix.system'):
        load_tool('analysis/report').main(
            [str(tmp_path / 'out'), '--run', str(tmp_path)])
    with pytest.raises(UnsafePickleError, match='posix.system'):
        load_tool('analysis/nme_by_source').main([evil])
    with pytest.raises(UnsafePickleError, match='posix.system'):
        load_tool('main_job').draw_predictions(evil, str(tmp_path / 'x.png'),
                                               4)
    # the ablation runner's report of a finished variant (--reuse)
    ablation = Config.fromfile(str(repo_root / CONFIG))
    with pytest.raises(UnsafePickleError, match='posix.system'):
        load_tool('analysis/run_ablation').model_result(
            ablation, dict(predictions=evil, label='full', first_stage=None),
            '300W')
    assert not marker.exists(), 'the pickled command was executed'
    with open(evil, 'rb') as f:  # the payload is real: plain pickle runs it
        pickle.load(f)
    assert marker.exists()


def test_torch_tensors_and_other_codecs_are_refused(tmp_path):
    tensor = _write(tmp_path / 'tensor.pkl',
                    [_sample(dict(t=torch.zeros(2)))])
    with pytest.raises(UnsafePickleError,
                       match='global torch._utils._rebuild_tensor_v2;'):
        report.load_dump(tensor)

    class Rot13:
        def __reduce__(self):
            import codecs
            return (codecs.encode, ('text', 'rot13'))

    codec = _write(tmp_path / 'codec.pkl', [Rot13()])
    with pytest.raises(UnsafePickleError) as info:
        load_restricted_pickle(codec)
    assert str(info.value) == (
        f"{codec}: _codecs.encode(str, 'rot13') refused; only the protocol "
        "2 bytes form (text, 'latin1') is allowed")


def test_broken_files_are_named(tmp_path):
    good = _write(tmp_path / 'good.pkl', [_sample()])
    truncated = tmp_path / 'truncated.pkl'
    truncated.write_bytes(Path(good).read_bytes()[:300])
    with pytest.raises(PickleReadError) as info:
        report.load_dump(str(truncated))
    assert str(info.value) == (f'{truncated} (300 bytes) cannot be read as '
                               'a pickle: pickle data was truncated')
    empty = tmp_path / 'empty.pkl'
    empty.write_bytes(b'')
    with pytest.raises(PickleReadError, match='empty.pkl .0 bytes. cannot'):
        report.load_dump(str(empty))
    with pytest.raises(FileNotFoundError, match='none.pkl not found'):
        report.load_dump(str(tmp_path / 'none.pkl'))
    mixed = _write(tmp_path / 'mixed.pkl', [_sample(), [1, 2]])
    with pytest.raises(ValueError, match=r'mixed.pkl, sample 1: a list, '):
        report.load_dump(mixed)


@pytest.mark.parametrize('protocol', range(pickle.HIGHEST_PROTOCOL + 1))
def test_numpy_and_builtin_values_load_in_every_protocol(tmp_path,
                                                         protocol):
    values = dict(
        scalar=np.float32(1.5), flag=np.bool_(True), zero_d=np.array(3.),
        ints=np.arange(6, dtype=np.int64).reshape(2, 3),
        fortran=np.asfortranarray(np.ones((2, 3))), empty=np.zeros((0, 2)),
        text=np.array(['a', 'bc']), objects=np.array([1, 'x'], object),
        raw=b'a\x00\xff', no_bytes=b'', buffer=bytearray(b'q'),
        numbers={1, 2}, frozen=frozenset([3]), complex=1 + 2j,
        ordered=collections.OrderedDict(z=1), plain=(None, True, 1.5, 'ü'))
    path = _write(tmp_path / 'values.pkl', [values], protocol)
    loaded, = load_restricted_pickle(path)
    assert loaded.keys() == values.keys()
    for key, value in values.items():
        assert type(loaded[key]) is type(value), key
        if isinstance(value, np.ndarray):
            assert loaded[key].dtype == value.dtype, key
            np.testing.assert_array_equal(loaded[key], value)
        else:
            assert loaded[key] == value, key


def test_a_real_dump_of_tools_test_still_loads(tmp_path, load_tool,
                                               repo_root, face300w_fixture):
    """tools/test.py --out and --report on the 300W fixture (tiny random
    model, every stage): both dumps load, equal to ``pickle.load``."""
    cfg = Config.fromfile(str(repo_root / CONFIG))
    cfg.model.neck.update(embed_dims=32, num_heads=2, ffn_dims=64)
    cfg.model.head.update(embed_dims=32, num_heads=2, ffn_dims=64,
                          predictor_dims=32, initial_memory_size=(2, 2),
                          decoder=dict(type='DLRLabel', input_size=(64, 64)))
    for step in cfg.test_dataloader.dataset.pipeline:
        if step['type'] == 'TopdownAffine':
            step['input_size'] = (64, 64)
    cfg.test_dataloader.dataset.update(
        data_root=f'{face300w_fixture}/', ann_file='test_300w.json',
        data_prefix=dict(img=''))
    cfg.test_dataloader.update(batch_size=2, num_workers=0,
                               persistent_workers=False)
    cfg.dump(str(tmp_path / 'tiny.py'))
    torch.manual_seed(0)
    model = init_face_model(str(tmp_path / 'tiny.py'))
    torch.save(dict(state_dict=model.state_dict(), meta={}),
               tmp_path / 'tiny.pth')
    load_tool('test').main([
        str(tmp_path / 'tiny.py'), str(tmp_path / 'tiny.pth'),
        '--work-dir', str(tmp_path / 'work'), '--dump',
        str(tmp_path / 'out.pkl'), '--output-stages', '--report',
        str(tmp_path / 'report'), '--cfg-options',
        'visualizer.name=test_safe_pickle'
    ])
    for dump in (tmp_path / 'out.pkl', tmp_path / 'report/predictions.pkl'):
        samples = report.load_dump(str(dump))
        with open(dump, 'rb') as f:
            expected = pickle.load(f)
        assert len(samples) == len(expected) == 2
        for got, want in zip(samples, expected):
            assert got.keys() == want.keys()
            assert got['img_path'] == want['img_path']
            assert got['flip_indices'] == want['flip_indices']
            for part in ('gt_instances', 'pred_instances'):
                for key, value in want[part].items():
                    np.testing.assert_array_equal(got[part][key], value)
        assert samples[0]['pred_instances']['stage_keypoints'].shape == (
            1, 4, 68, 2)
    again = load_tool('analysis/report').main(
        [str(tmp_path / 'again'), '--run', str(tmp_path / 'report')])
    assert Path(again['table1_csv']).read_text() == (
        tmp_path / 'report' / 'table1_nme.csv').read_text()
