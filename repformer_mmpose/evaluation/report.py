"""Tables in the paper's Table 1 layout and CED plots from test results.

Rows are models, columns data sets and their subsets (WFLW's six
attribute subsets then the full set, as Table 1). Every table states how
each data set's NME was normalised.
"""
from __future__ import annotations

import csv
import os
import os.path as osp
import shutil
import tempfile
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..utils.safe_pickle import load_restricted_pickle
from .face_results import FaceEvaluation, evaluate_faces, face_from_sample
from .subsets import KNOWN_SUBSETS, SubsetFace

#: Table 1's data set order; others follow in the order given.
DATASET_ORDER = ('WFLW', '300W', 'COFW', 'AFLW')
#: Column labels of the subsets, as in the paper's tables.
SUBSET_LABELS = {
    'largepose': 'Pose',
    'expression': 'Expr.',
    'illumination': 'Illu.',
    'makeup': 'M.u.',
    'occlusion': 'Occ.',
    'blur': 'Blur',
    'common': 'Common',
    'challenge': 'Challenge',
    'frontal': 'Frontal',
    'full': 'Full',
}


@dataclass
class ModelResult:
    """One model tested on one data set."""

    model: str
    dataset: str
    evaluation: FaceEvaluation
    first_stage: int = 0


def load_dump(path: str) -> list[dict]:
    """The data samples of a ``DumpResults`` pickle, read by
    :func:`~repformer_mmpose.utils.safe_pickle.load_restricted_pickle`
    (nothing in it is run; unsafe globals raise ``UnsafePickleError``)."""
    samples = load_restricted_pickle(path)
    if not isinstance(samples, list) or not samples:
        raise ValueError(f'{path}: not a DumpResults pickle (a non-empty '
                         'list of data sample dicts)')
    for index, sample in enumerate(samples):
        if not isinstance(sample, Mapping):
            raise ValueError(
                f'{path}, sample {index}: a {type(sample).__name__}, not a '
                'data sample dict: not a DumpResults pickle')
    return samples


def evaluate_dump(path: str,
                  subsets: Mapping[str, Sequence[SubsetFace]] | None = None,
                  norm_mode: str = 'auto',
                  keypoint_indices: Sequence[int] | None = None,
                  **kwargs) -> FaceEvaluation:
    """:func:`evaluate_faces` of the faces in a ``DumpResults`` pickle."""
    faces = []
    for index, sample in enumerate(load_dump(path)):
        try:
            faces.append(
                face_from_sample(sample, norm_mode, keypoint_indices))
        except (KeyError, ValueError) as error:
            raise type(error)(f'{path}, sample {index}: {error}') from None
    return evaluate_faces(faces, subsets, **kwargs)


def _dataset_rank(name: str, order: Sequence[str]) -> tuple[int, int]:
    upper = [d.upper() for d in DATASET_ORDER]
    if name.upper() in upper:
        return (0, upper.index(name.upper()))
    return (1, order.index(name))


def _subset_rank(name: str) -> int:
    if name == 'full':
        return len(KNOWN_SUBSETS) + 1
    if name in KNOWN_SUBSETS:
        return KNOWN_SUBSETS.index(name)
    return len(KNOWN_SUBSETS)


def columns(results: Sequence[ModelResult]) -> list[tuple[str, str]]:
    """``(dataset, subset)`` columns in Table 1's order."""
    subsets: dict[str, list[str]] = {}
    for result in results:
        names = subsets.setdefault(result.dataset, ['full'])
        names += [name for name, subset in result.evaluation.subsets.items()
                  if subset.faces and name not in names]
    given = list(subsets)
    datasets = sorted(given, key=lambda d: _dataset_rank(d, given))
    return [(d, s) for d in datasets
            for s in sorted(subsets[d], key=_subset_rank)]


def column_label(dataset: str, subset: str) -> str:
    return f'{dataset} {SUBSET_LABELS.get(subset, subset)}'


def _set(result: ModelResult, subset: str):
    if subset == 'full':
        return result.evaluation.full
    found = result.evaluation.subsets.get(subset)
    return found if found is not None and found.faces else None


def _percent(value: float | None, digits: int = 2) -> str:
    if value is None or not np.isfinite(value):
        return '-'
    return f'{100 * value:.{digits}f}'


def nme_table(results: Sequence[ModelResult]
              ) -> tuple[list[str], list[list[str]]]:
    """Table 1: NME (%) per model (row) and data set / subset (column)."""
    cols = columns(results)
    header = ['model'] + [column_label(d, s) for d, s in cols]
    rows = []
    for model in dict.fromkeys(r.model for r in results):
        row = [model]
        for dataset, subset in cols:
            match = [r for r in results
                     if r.model == model and r.dataset == dataset]
            found = _set(match[-1], subset) if match else None
            row.append(_percent(found.nme if found else None))
        rows.append(row)
    return header, rows


def detail_table(results: Sequence[ModelResult]
                 ) -> tuple[list[str], list[list[str]]]:
    """One row per model, data set and subset: faces, NME, FR, AUC."""
    cols = columns(results)
    threshold = results[0].evaluation.threshold
    header = ['model', 'dataset', 'subset', 'faces', 'NME (%)',
              f'FR@{threshold:.2f} (%)', f'AUC@{threshold:.2f}',
              'normalised by']
    rows = []
    for result in results:
        for dataset, subset in cols:
            found = (_set(result, subset)
                     if dataset == result.dataset else None)
            if found is None:
                continue
            auc = '-' if not np.isfinite(found.auc) else f'{found.auc:.4f}'
            rows.append([
                result.model, dataset, subset,
                str(found.faces),
                _percent(found.nme),
                _percent(found.fr),
                auc,
                result.evaluation.normalisation()
            ])
    return header, rows


def stage_table(results: Sequence[ModelResult]
                ) -> tuple[list[str], list[list[str]]]:
    """NME (%) of each refinement stage ``L^i`` (models that have them)."""
    staged = [r for r in results if r.evaluation.stage_nmes]
    if not staged:
        return [], []
    first = min(r.first_stage for r in staged)
    last = max(r.first_stage + len(r.evaluation.stage_nmes) - 1
               for r in staged)
    header = ['model', 'dataset'] + [
        f'L^{i}' for i in range(first, last + 1)
    ]
    rows = []
    for result in staged:
        cells = ['-'] * (last - first + 1)
        for index, nme in enumerate(result.evaluation.stage_nmes):
            cells[result.first_stage + index - first] = _percent(nme)
        rows.append([result.model, result.dataset] + cells)
    return header, rows


def confidence_table(results: Sequence[ModelResult]
                     ) -> tuple[list[str], list[list[str]]]:
    """The uncertainty statistics (:mod:`.uncertainty_metrics`) of the
    models that output per-point scales."""
    scored = [r for r in results if r.evaluation.uncertainty is not None]
    if not scored:
        return [], []
    subsets = sorted({s for r in scored
                      for s in r.evaluation.uncertainty.occlusion_auroc})
    header = ['model', 'dataset', 'points', 'Spearman(scale, error)',
              'AUSE', 'NME drop, 10 % least confident (%)',
              'coverage 50 %', 'coverage 90 %'] + [
                  'occlusion AUROC' + (f' ({s})' if s else '')
                  for s in subsets]
    rows = []
    for result in scored:
        unc = result.evaluation.uncertainty
        rows.append([
            result.model, result.dataset, str(unc.points),
            f'{unc.spearman:.3f}', f'{unc.ause:.4f}',
            _percent(unc.nme_drop_at_10, 1),
            f'{unc.coverage.get(0.5, float("nan")):.3f}',
            f'{unc.coverage.get(0.9, float("nan")):.3f}'
        ] + [
            f'{unc.occlusion_auroc[s]:.3f}' if s in unc.occlusion_auroc
            else '-' for s in subsets
        ])
    return header, rows


def markdown_table(header: Sequence[str],
                   rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table, text left-aligned and numbers right-aligned."""
    rows = [list(r) for r in rows]

    def numeric(col: int) -> bool:
        cells = [r[col] for r in rows if r[col] != '-']
        return bool(cells) and all(
            re.fullmatch(r'-?[\d.]+(e-?\d+)?', c) for c in cells)

    align = ['---:' if numeric(i) else '---' for i in range(len(header))]
    lines = ['| ' + ' | '.join(header) + ' |', '| ' + ' | '.join(align) +
             ' |']
    lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
    return '\n'.join(lines)


def write_csv(path: str, header: Sequence[str],
              rows: Iterable[Sequence[str]]) -> None:
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def slug(text: str) -> str:
    return re.sub(r'[^A-Za-z0-9.-]+', '_', text).strip('_').lower()


def plot_ced(results: Sequence[ModelResult], path: str,
             title: str | None = None) -> None:
    """CED curves (full test set) of several models on one data set."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 4.2), dpi=120)
    for result in results:
        full = result.evaluation.full
        x, ced = full.ced(result.evaluation.threshold,
                          result.evaluation.step)
        axis.plot(100 * x, ced,
                  label=f'{result.model} (AUC {full.auc:.4f}, '
                  f'FR {100 * full.fr:.2f}%)')
    threshold = 100 * results[0].evaluation.threshold
    axis.set_xlim(0, threshold)
    axis.set_ylim(0, 1)
    axis.set_xlabel('NME (%)')
    axis.set_ylabel('fraction of faces')
    axis.set_title(title or f'CED on {results[0].dataset}')
    axis.grid(alpha=0.3)
    axis.legend(loc='lower right', fontsize=7)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def normalisation_notes(results: Sequence[ModelResult]) -> list[str]:
    """One line per data set: how its NME was normalised."""
    notes = {}
    for result in results:
        notes.setdefault(result.dataset, set()).add(
            result.evaluation.normalisation())
    return [f'- {dataset}: NME normalised by {"; ".join(sorted(how))}'
            for dataset, how in notes.items()]


def write_report(results: Sequence[ModelResult],
                 out_dir: str,
                 title: str = 'Face landmark results',
                 notes: Sequence[str] = ()) -> dict[str, str]:
    """Write ``report.md``, ``table1_nme.csv``, ``results.csv`` and
    ``ced_<dataset>.png`` into ``out_dir``, all or none: they are written
    into a staging folder inside ``out_dir`` and moved into place only
    when every one is complete (a full disk leaves the old report whole).

    Returns:
        ``{what: path}`` of the files written.
    """
    if not results:
        raise ValueError('no results to report')
    os.makedirs(out_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix='.report-', dir=out_dir)
    try:
        staged = _write_report_files(results, staging, title, notes)
        for path in staged.values():
            os.replace(path, osp.join(out_dir, osp.basename(path)))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {what: osp.join(out_dir, osp.basename(path))
            for what, path in staged.items()}


def _write_report_files(results: Sequence[ModelResult], out_dir: str,
                        title: str, notes: Sequence[str]) -> dict[str, str]:
    """The files of :func:`write_report`, written into ``out_dir``."""
    written = {}
    header, rows = nme_table(results)
    written['table1_csv'] = osp.join(out_dir, 'table1_nme.csv')
    write_csv(written['table1_csv'], header, rows)
    detail_header, detail_rows = detail_table(results)
    written['results_csv'] = osp.join(out_dir, 'results.csv')
    write_csv(written['results_csv'], detail_header, detail_rows)
    threshold = results[0].evaluation.threshold
    parts = [
        f'# {title}', '', *notes, *([''] if notes else []),
        'NME (%), rows = models, columns = data set and subset '
        "(the paper's Table 1 layout).", '',
        markdown_table(header, rows), '', *normalisation_notes(results), '',
        f'## Faces, NME, FR@{threshold:.2f} and AUC@{threshold:.2f}', '',
        f'FR: faces with NME > {threshold:.2f}; AUC: area under the CED '
        f'up to {threshold:.2f}, Simpson\'s rule on a '
        f'{results[0].evaluation.step:g} grid, divided by {threshold:.2f} '
        '(PIPNet).', '',
        markdown_table(detail_header, detail_rows)
    ]
    stage_header, stage_rows = stage_table(results)
    if stage_rows:
        parts += [
            '', '## NME (%) per refinement stage', '',
            markdown_table(stage_header, stage_rows)
        ]
    confidence_header, confidence_rows = confidence_table(results)
    if confidence_rows:
        parts += [
            '', '## Per-point confidence', '',
            'Spearman correlation of predicted scale and point error; '
            'sparsification AUSE and the NME drop when the least confident '
            'points are removed; share of points inside the predicted '
            '50 % / 90 % regions; AUROC of the confidence for telling '
            'visible from occluded points (where records label them).', '',
            markdown_table(confidence_header, confidence_rows)
        ]
    plots = []
    for dataset in dict.fromkeys(r.dataset for r in results):
        path = osp.join(out_dir, f'ced_{slug(dataset)}.png')
        plot_ced([r for r in results if r.dataset == dataset], path)
        written[f'ced_{dataset}'] = path
        plots.append(f'![CED on {dataset}]({osp.basename(path)})')
    parts += ['', '## CED curves', '', *plots, '']
    written['markdown'] = osp.join(out_dir, 'report.md')
    with open(written['markdown'], 'w') as f:
        f.write('\n'.join(parts))
    return written
