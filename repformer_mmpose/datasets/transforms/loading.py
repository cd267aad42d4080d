"""Image loading whose errors name the image file and the record.

MMPose's ``LoadImage`` fails on an undecodable image with an
``AssertionError`` that names no annotation (or, with ``ignore_empty``,
lets the dataset silently draw another sample); OpenCV decodes a JPEG
whose end is lost as flat grey without a word. :class:`LoadFaceImage`
reads the same way (mmengine file backends, ``mmcv.imfrombytes``) but
raises :class:`ImageLoadError` naming the path, the annotation and image
ids, and whether the file is missing, truncated (:mod:`..image_integrity`)
or undecodable. To drop unreadable images instead, let the dataset check
them (``check_images='decode'``, ``skip_invalid=True``), which counts what
it skips.
"""
from __future__ import annotations

import os

import mmcv
from mmengine import fileio
from mmpose.datasets.transforms import LoadImage
from mmpose.registry import TRANSFORMS

from ..image_integrity import truncation_problem


class ImageLoadError(OSError):
    """An image of a data sample is missing or cannot be decoded.

    Args:
        path: The image file.
        record: Which sample, e.g. ``'annotation id 3, image id 197'``.
        reason: What went wrong.
    """

    def __init__(self, path: str | os.PathLike | None, record: str,
                 reason: str) -> None:
        self.path = None if path is None else os.fspath(path)
        self.record = record
        self.reason = reason
        super().__init__(f'image {self.path} ({record}): {reason}')


def _describe_sample(results: dict) -> str:
    """``'annotation id 3, image id 197'`` from a pipeline's data info."""
    parts = []
    if results.get('id') is not None:
        parts.append(f'annotation id {results["id"]}')
    if results.get('img_id') is not None:
        parts.append(f'image id {results["img_id"]}')
    return ', '.join(parts) or 'sample without ids'


@TRANSFORMS.register_module()
class LoadFaceImage(LoadImage):
    """MMPose's ``LoadImage``, with an :class:`ImageLoadError` on failure.

    Required keys: ``img_path`` (or ``img``). Added keys: ``img``,
    ``img_shape``, ``ori_shape``. Arguments are ``LoadImage``'s except
    ``ignore_empty`` (a missing image is always an error) and the
    deprecated ``file_client_args`` (use ``backend_args``).
    """

    def __init__(self, **kwargs) -> None:
        for name in ('ignore_empty', 'file_client_args'):
            if kwargs.get(name):
                raise ValueError(f'LoadFaceImage does not take {name}')
        super().__init__(**kwargs)

    def transform(self, results: dict) -> dict:
        if 'img' in results:  # an image already in memory
            return super().transform(results)
        path = results.get('img_path')
        record = _describe_sample(results)
        if not path:
            raise ImageLoadError(path, record, 'no img_path in the sample')
        try:
            img_bytes = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError:
            raise ImageLoadError(path, record, 'file not found') from None
        except OSError as err:
            raise ImageLoadError(path, record,
                                 f'cannot be read: {err}') from err
        problem = truncation_problem(img_bytes)
        if problem is not None:
            raise ImageLoadError(path, record, problem)
        try:
            img = mmcv.imfrombytes(
                img_bytes, flag=self.color_type,
                backend=self.imdecode_backend)
        except Exception as err:  # decoders raise many types
            raise ImageLoadError(
                path, record,
                f'cannot be decoded ({type(err).__name__}: {err})') from err
        if img is None or img.size == 0:
            raise ImageLoadError(
                path, record,
                f'cannot be decoded ({len(img_bytes)} bytes; corrupt or not '
                'an image)')
        if self.to_float32:
            img = img.astype('float32')
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results
