"""Table 1-style reports: tables, CED plots, tools/test.py --report."""
import csv
import json
import pickle
import shutil

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmpose.registry import MODELS
from repformer_mmpose.datasets.synthface import generate_synthface
from repformer_mmpose.evaluation import report

SYNTHFACE_CONFIG = ('configs/repformer/synthface/'
                    'repformer_res18-d128_1xb16-6e_synthface-128x128.py')


def face(name, num_points, offset, dataset_name, eyes=None, **meta):
    """A face whose every prediction is ``offset`` pixels off."""
    rng = np.random.default_rng(len(name))
    gt = rng.uniform(0, 50, (num_points, 2))
    if eyes:  # inter-ocular distance 100
        gt[eyes[0]], gt[eyes[1]] = (0., 0.), (100., 0.)
    return dict(
        img_path=f'/data/{name}',
        dataset_name=dataset_name,
        gt_instances=dict(
            keypoints=gt[None], keypoints_visible=np.ones((1, num_points))),
        pred_instances=dict(keypoints=gt[None] + offset),
        **meta)


def dump(path, samples):
    with open(path, 'wb') as f:
        pickle.dump(samples, f)
    return str(path)


def write_subset(path, samples):
    images = [dict(id=i, file_name=s['img_path'].split('/')[-1])
              for i, s in enumerate(samples)]
    annotations = [
        dict(id=i, image_id=i, keypoints=np.concatenate(
            [s['gt_instances']['keypoints'][0], np.ones((len(
                s['gt_instances']['keypoints'][0]), 1))], 1).ravel().tolist())
        for i, s in enumerate(samples)
    ]
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=annotations), f)


@pytest.fixture()
def dumps(tmp_path):
    """Model A on WFLW (3 faces, subsets largepose = face 0 and blur =
    faces 1, 2) and AFLW (box_size 200); model B on WFLW only."""
    def wflw(offset):
        return [face(f'w{i}.jpg', 98, np.multiply(offset, i + 1), 'wflw',
                     eyes=(60, 72)) for i in range(3)]

    a_wflw, b_wflw = wflw((3., 4.)), wflw((0.6, 0.8))
    write_subset(tmp_path / 'wflw_test.json', a_wflw)
    write_subset(tmp_path / 'wflw_test_largepose.json', a_wflw[:1])
    write_subset(tmp_path / 'wflw_test_blur.json', a_wflw[1:])
    aflw = [face(f'f{i}.jpg', 19, (3., 4.), 'aflw', box_size=200.)
            for i in range(2)]
    return dict(
        a_wflw=dump(tmp_path / 'a_wflw.pkl', a_wflw),
        b_wflw=dump(tmp_path / 'b_wflw.pkl', b_wflw),
        a_aflw=dump(tmp_path / 'a_aflw.pkl', aflw),
        wflw_test=str(tmp_path / 'wflw_test.json'))


def read_csv(path):
    with open(path) as f:
        return list(csv.reader(f))


def test_report_tool_writes_table1_layout(dumps, tmp_path, load_tool):
    tool = load_tool('analysis/report')
    out = tmp_path / 'out'
    written = tool.main([
        str(out), '--result', 'A', 'AFLW', dumps['a_aflw'], '--result', 'A',
        'WFLW', dumps['a_wflw'], '--result', 'B', 'WFLW', dumps['b_wflw'],
        '--subsets', 'WFLW', dumps['wflw_test']
    ])
    header, row_a, row_b = read_csv(out / 'table1_nme.csv')
    # Table 1's order: WFLW (subsets, then full) before AFLW
    assert header == ['model', 'WFLW Pose', 'WFLW Blur', 'WFLW Full',
                      'AFLW Full']
    # A: face i is 5 (i + 1) px off at inter-ocular 100 -> 5, 10, 15 %;
    # AFLW: 5 px / box_size 200 = 2.5 %
    assert row_a == ['A', '5.00', '12.50', '10.00', '2.50']
    assert row_b == ['B', '1.00', '2.50', '2.00', '-']
    details = {(r[0], r[1], r[2]): r for r in read_csv(out / 'results.csv')}
    # FR: A's face at 0.10 is no failure, at 0.15 it is
    assert details[('A', 'WFLW', 'full')][3:6] == ['3', '10.00', '33.33']
    assert details[('A', 'WFLW', 'blur')][3] == '2'
    assert 'box_size' in details[('A', 'AFLW', 'full')][7]
    text = (out / 'report.md').read_text()
    assert '| A | 5.00 | 12.50 | 10.00 | 2.50 |' in text
    assert 'AFLW: NME normalised by the annotation\'s box_size' in text
    assert 'WFLW: NME normalised by the inter-ocular distance (points 60 ' \
        'and 72' in text
    for name in ('wflw', 'aflw'):
        image = cv2.imread(written[f'ced_{name.upper()}'])
        assert image is not None and image.shape[2] == 3
        assert f'ced_{name}.png' in text


def test_tables_of_refinement_stages():
    def result(model, first, nmes):
        evaluation = report.FaceEvaluation(
            full=None, subsets={}, stage_nmes=nmes, norm_sources={})
        return report.ModelResult(model, 'X', evaluation, first)

    header, rows = report.stage_table(
        [result('dlr', 0, [.04, .03, .02, .01]),
         result('no-dlr', 1, [.03, .02, .01])])
    assert header == ['model', 'dataset', 'L^0', 'L^1', 'L^2', 'L^3']
    assert rows == [['dlr', 'X', '4.00', '3.00', '2.00', '1.00'],
                    ['no-dlr', 'X', '-', '3.00', '2.00', '1.00']]


def test_bad_dump_is_named(tmp_path):
    bad = dump(tmp_path / 'bad.pkl', {'not': 'a list'})
    with pytest.raises(ValueError, match='bad.pkl: not a DumpResults'):
        report.evaluate_dump(bad)
    broken = face('x.jpg', 19, 1., 'aflw')  # AFLW without any box
    with pytest.raises(KeyError, match=r'broken.pkl, sample 0: .*x.jpg'):
        report.evaluate_dump(dump(tmp_path / 'broken.pkl', [broken]))


def test_test_tool_report_end_to_end(tmp_path, load_tool, repo_root):
    """tools/test.py --report on a random-init model and 6 SynthFace
    faces; tools/analysis/report.py --run reads the same figures back."""
    root = tmp_path / 'synthface'
    generate_synthface(str(root), num_train=0, num_test=6, seed=3,
                       workers=1, verbose=False)
    cfg = Config.fromfile(str(repo_root / SYNTHFACE_CONFIG))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(cfg.model)
    checkpoint = tmp_path / 'random.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), checkpoint)
    out = tmp_path / 'report'
    metrics = load_tool('test').main([
        str(repo_root / SYNTHFACE_CONFIG),
        str(checkpoint), '--work-dir',
        str(tmp_path / 'work'), '--report',
        str(out), '--model-name', 'random', '--cfg-options',
        f'test_dataloader.dataset.data_root={root}/',
        'test_dataloader.batch_size=3', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'visualizer.name=test_report_e2e'
    ])
    assert {'NME', 'FR@0.10', 'AUC@0.10', 'NME/stage0',
            'NME/stage3'} <= set(metrics)
    assert metrics['NME/stage3'] == pytest.approx(metrics['NME'])
    with open(root / 'annotations' / 'synthface_test_largepose.json') as f:
        largepose = len(json.load(f)['annotations'])
    assert ('NME/largepose' in metrics) == (largepose > 0)
    run = json.loads((out / 'run.json').read_text())
    assert (run['model'], run['dataset']) == ('random', 'SynthFace')
    assert (out / 'ced_synthface.png').is_file()
    rows = read_csv(out / 'table1_nme.csv')
    assert rows[0][-1] == 'SynthFace Full'
    assert rows[1][-1] == f'{100 * metrics["NME"]:.2f}'

    again = load_tool('analysis/report').main(
        [str(tmp_path / 'again'), '--run', str(out)])
    assert read_csv(again['table1_csv']) == rows
    # an archived copy reads its own predictions, not the original path's
    archived = tmp_path / 'archived'
    shutil.copytree(out, archived)
    shutil.rmtree(out)
    moved = load_tool('analysis/report').main(
        [str(tmp_path / 'from_archive'), '--run', str(archived)])
    assert read_csv(moved['table1_csv']) == rows


def test_report_is_written_all_or_nothing(dumps, tmp_path, monkeypatch):
    """A failure while writing (here the CED plot, as on a full disk)
    leaves the previous report's files as they were, and no partial or
    staging file."""
    from repformer_mmpose.evaluation import report as report_module
    results = [report_module.ModelResult(
        'A', 'WFLW', report_module.evaluate_dump(dumps['a_wflw']))]
    out = tmp_path / 'report'
    report_module.write_report(results, str(out))
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def disk_full(*args, **kwargs):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(report_module, 'plot_ced', disk_full)
    with pytest.raises(OSError, match='No space left'):
        report_module.write_report(results + results, str(out))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
