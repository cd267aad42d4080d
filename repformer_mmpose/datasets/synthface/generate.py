"""Write a SynthFace data set to disk (images, annotations, manifest).

Layout of ``out_dir``::

    images/{train,test}_NNNNNN.jpg
    annotations/synthface_train.json
    annotations/synthface_test.json
    annotations/synthface_test_{largepose,expression,illumination,
                                makeup,occlusion,blur}.json
    synthface_manifest.json

Images are JPEG at quality 95 by default: the sensor noise and noise
textures make PNG nearly incompressible (about 110 KB against 22 KB per
256-pixel image, so 5x the disk and read traffic for a few thousand
images), real face sets (300W, WFLW) are JPEG too, and q95 artefacts are
far below the label precision.  Encoding and decoding are deterministic
with a given OpenCV build.  ``image_format='png'`` writes lossless PNG
(pixels exactly as drawn, bit-identical with any decoder).

Samples are independent (:mod:`.synthesis`), so a ``multiprocessing``
pool renders them in any order; results are collected in index order
and the JSON is byte-identical for any worker count.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import os.path as osp
import re
import time

import cv2

from .annotations import (annotation_record, attribute_subset, coco_dict,
                          image_record, write_json)
from .attributes import ATTRIBUTES, SUBSET_NAMES
from .layouts import get_layout
from .manifest import (is_complete, manifest_path, remove_manifest,
                       write_manifest)
from .synthesis import make_sample

GENERATOR_VERSION = 2  # 2: keypoints_occluded in every record
IMAGE_FORMATS = {
    'png': [cv2.IMWRITE_PNG_COMPRESSION, 1],
    'jpg': [cv2.IMWRITE_JPEG_QUALITY, 95],
}
_IMAGE_NAME = re.compile(r'^(train|test)_\d{6}\.(png|jpg)$')

Task = tuple[int, str, int, int, str, str, str]


def image_name(split: str, index: int, image_format: str = 'jpg') -> str:
    """File name of image ``index`` of ``split``."""
    return f'{split}_{index:06d}.{image_format}'


def _render_and_write(task: Task) -> tuple[dict, dict]:
    """Worker: render one sample, write its image, return its records."""
    seed, split, index, size, layout, image_dir, fmt = task
    sample = make_sample(seed, split, index, size, layout)
    name = image_name(split, index, fmt)
    if not cv2.imwrite(osp.join(image_dir, name), sample.image,
                       IMAGE_FORMATS[fmt]):
        raise OSError(f'could not write {osp.join(image_dir, name)}')
    return (image_record(index + 1, name, size),
            annotation_record(index + 1, index + 1, sample.keypoints,
                              sample.flags, sample.occluded))


def _init_worker() -> None:
    cv2.setNumThreads(1)


def _pool_context() -> mp.context.BaseContext:
    """A start method that is safe in a multi-threaded parent.

    Plain ``fork`` deadlocks when the parent already runs OpenCV's (or
    another library's) thread pool, so workers are forked from a clean
    fork server that has imported this module once; ``spawn`` where fork
    servers are unavailable.
    """
    if 'forkserver' in mp.get_all_start_methods():
        ctx = mp.get_context('forkserver')
        ctx.set_forkserver_preload([__name__])
        return ctx
    return mp.get_context('spawn')


def _run(tasks: list[Task], workers: int) -> list[tuple[dict, dict]]:
    """Run the tasks, in a pool of ``workers`` processes if > 1."""
    if workers <= 1 or len(tasks) < 2:
        return [_render_and_write(t) for t in tasks]
    chunk = max(1, min(32, len(tasks) // (4 * workers)))
    with _pool_context().Pool(workers, initializer=_init_worker) as pool:
        return list(pool.imap(_render_and_write, tasks, chunksize=chunk))


def _clear_images(image_dir: str) -> None:
    """Remove SynthFace images left by an earlier run."""
    for name in os.listdir(image_dir):
        if _IMAGE_NAME.match(name):
            os.remove(osp.join(image_dir, name))


def generate_synthface(out_dir: str, num_train: int = 3000,
                       num_test: int = 500, seed: int = 0,
                       layout: str | int = '68', image_size: int = 256,
                       workers: int = 2, force: bool = False,
                       image_format: str = 'jpg',
                       verbose: bool = True) -> dict:
    """Generate SynthFace into ``out_dir``; skip if it is already there.

    Args:
        out_dir: output folder (created if needed).
        num_train, num_test: number of faces per split.
        seed: data set seed; sample ``i`` of a split depends only on
            ``(seed, split, i)``.
        layout: ``'68'`` (300W) or ``'98'`` (WFLW) keypoints.
        image_size: side of the square images.
        workers: processes rendering in parallel (output is identical
            for any value).
        force: regenerate even if a matching manifest exists.
        image_format: ``'jpg'`` (quality 95, default) or ``'png'``
            (lossless).
        verbose: print a one-line summary with the speed.

    Returns:
        dict with ``out_dir``, ``image_dir``, ``manifest``, ``ann_files``
        (``train``, ``test``, ``test_<subset>`` -> absolute path),
        ``counts`` (same keys -> number of faces), ``skipped``,
        ``seconds`` and ``images_per_sec`` (0 when skipped).
    """
    lay = get_layout(layout)
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f'image_format must be one of {list(IMAGE_FORMATS)}')
    if min(num_train, num_test) < 0 or int(seed) < 0:
        raise ValueError('num_train, num_test and seed must be >= 0')
    if num_train + num_test == 0:
        raise ValueError('num_train and num_test are both 0: nothing to '
                         'generate (the annotation files would be empty)')
    params = dict(generator_version=GENERATOR_VERSION,
                  num_train=int(num_train), num_test=int(num_test),
                  seed=int(seed), layout=lay.name,
                  image_size=int(image_size), image_format=image_format)
    out_dir = osp.abspath(out_dir)
    image_dir = osp.join(out_dir, 'images')
    manifest = None if force else is_complete(out_dir, params)
    skipped = manifest is not None
    start = time.perf_counter()
    if manifest is None:
        manifest = _write_set(out_dir, image_dir, params, lay.num_keypoints,
                              workers)
    seconds = time.perf_counter() - start
    total = params['num_train'] + params['num_test']
    rate = 0.0 if skipped else total / max(seconds, 1e-9)
    if verbose:
        if skipped:
            print(f'SynthFace: {out_dir} is up to date (manifest matches); '
                  'use force=True / --force to regenerate')
        else:
            print(f'SynthFace: wrote {total} images ({lay.name} points, '
                  f'{image_size}px) to {out_dir} in {seconds:.1f} s = '
                  f'{rate:.1f} images/s with {max(int(workers), 1)} '
                  'worker(s)')
    return dict(out_dir=out_dir, image_dir=image_dir,
                manifest=manifest_path(out_dir),
                ann_files={k: osp.join(out_dir, v)
                           for k, v in manifest['ann_files'].items()},
                counts=dict(manifest['counts']), skipped=skipped,
                seconds=seconds, images_per_sec=rate)


def _write_set(out_dir: str, image_dir: str, params: dict,
               num_keypoints: int, workers: int) -> dict:
    """Render both splits, write JSON files and the manifest."""
    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    remove_manifest(out_dir)
    _clear_images(image_dir)
    fmt, size, seed = (params['image_format'], params['image_size'],
                       params['seed'])
    tasks: list[Task] = [
        (seed, split, i, size, params['layout'], image_dir, fmt)
        for split in ('train', 'test')
        for i in range(params[f'num_{split}'])]
    results = _run(tasks, int(workers))
    n_train = params['num_train']
    sets = {'train': results[:n_train], 'test': results[n_train:]}
    ann_files, counts, cocos = {}, {}, {}
    for split, recs in sets.items():
        cocos[split] = coco_dict([r[0] for r in recs], [r[1] for r in recs],
                                 num_keypoints)
    for name in ATTRIBUTES:
        cocos[f'test_{SUBSET_NAMES[name]}'] = attribute_subset(
            cocos['test'], name)
    for key, coco in cocos.items():
        rel = osp.join('annotations', f'synthface_{key}.json')
        write_json(osp.join(out_dir, rel), coco)
        ann_files[key] = rel
        counts[key] = len(coco['annotations'])
    last = [image_name(s, params[f'num_{s}'] - 1, fmt)
            for s in ('train', 'test') if params[f'num_{s}'] > 0]
    manifest = dict(dataset='SynthFace', params=params, ann_files=ann_files,
                    counts=counts, last_images=last)
    write_manifest(out_dir, manifest)
    return manifest
