"""Where the demos write: one output per input, nothing replaced unasked.

:func:`image_outputs` keeps each input's folder below the inputs' common
folder (``a/x.png b/x.png`` -> ``OUT/a/x.png``, ``OUT/b/x.png``) and gives
inputs of one folder that share a stem their full name (``OUT/y.jpg.json``,
``OUT/y.png.json``); inputs in one folder keep ``OUT/<name>``.
:func:`check_outputs` refuses an output that is an input, or that exists,
unless ``--overwrite`` is given.
"""
from __future__ import annotations

import os.path as osp
from collections import Counter
from collections.abc import Sequence

from ..utils.atomic_write import refuse_input_as_output


class OutputExistsError(FileExistsError):
    """An output file exists and ``--overwrite`` was not given."""


def _below_common_folder(images: Sequence[str]) -> list[str]:
    """Each image's folder relative to the images' common folder."""
    folders = [osp.dirname(osp.abspath(image)) for image in images]
    try:
        root = osp.commonpath(folders)
    except ValueError:  # different drives: keep the whole path
        return [osp.splitdrive(folder)[1].lstrip('\\/') for folder in folders]
    return [osp.relpath(folder, root) for folder in folders]


def image_outputs(images: Sequence[str], out_dir: str,
                  extensions: Sequence[str]) -> list[tuple[str, str]]:
    """``(drawing, json)`` paths of each image, all distinct.

    The drawing keeps the input's extension where it is one of
    ``extensions`` (OpenCV writes it), else becomes PNG.

    Raises:
        ValueError: if two inputs would still write the same file.
    """
    plans = []
    for image, folder in zip(images, _below_common_folder(images)):
        name = osp.basename(image)
        stem, ext = osp.splitext(name)
        plans.append((osp.normpath(osp.join(out_dir, folder)), name, stem,
                      ext.lower() in extensions))
    stems = Counter((folder, stem) for folder, _, stem, _ in plans)
    outputs = []
    for folder, name, stem, writable in plans:
        base = name if stems[(folder, stem)] > 1 else stem
        drawing = name if writable else base + '.png'
        outputs.append((osp.join(folder, drawing),
                        osp.join(folder, base + '.json')))
    owners: dict[str, str] = {}
    for image, paths in zip(images, outputs):
        for path in paths:
            key = osp.normcase(osp.abspath(path))
            if key in owners:
                raise ValueError(
                    f'inputs {owners[key]} and {image} would both write '
                    f'{path}: rename one of them')
            owners[key] = image
    return outputs


def check_outputs(outputs: Sequence[tuple[str, str]],
                  inputs: Sequence[str], overwrite: bool) -> None:
    """Refuse outputs that are inputs, and existing outputs unless
    ``overwrite``.

    Args:
        outputs: ``(path, what)`` pairs, e.g. ``('out/x.png', 'the
            drawing of x.png')``.
        inputs: Input files.
        overwrite: Replace existing outputs.

    Raises:
        OutputIsInputError: if an output is an input (the same path, or
            the same file under another name: a hard link).
        OutputExistsError: if an output exists and not ``overwrite``.
    """
    sources = [('input', source) for source in inputs]
    for path, what in outputs:
        refuse_input_as_output(path, sources, what)  # path or hard link
        if osp.lexists(path) and not overwrite:
            raise OutputExistsError(
                f'{path} exists ({what} would replace it): pass '
                '--overwrite to replace it, or choose another output')
