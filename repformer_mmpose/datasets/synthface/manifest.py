"""The manifest that lets SynthFace skip regenerating an existing set.

``<out>/synthface_manifest.json`` records the generator version and every
parameter that changes the output (not the worker count: output does not
depend on it) plus the written files and counts.  It is written last, so
an interrupted run never looks complete.
"""
from __future__ import annotations

import json
import os
import os.path as osp

from ...utils.atomic_write import atomic_open

MANIFEST_NAME = 'synthface_manifest.json'


def manifest_path(out_dir: str) -> str:
    """Path of the manifest inside ``out_dir``."""
    return osp.join(out_dir, MANIFEST_NAME)


def read_manifest(out_dir: str) -> dict | None:
    """The manifest of ``out_dir``, or None if missing or unreadable."""
    try:
        with open(manifest_path(out_dir)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def is_complete(out_dir: str, params: dict) -> dict | None:
    """The manifest if it matches ``params`` and its files all exist."""
    manifest = read_manifest(out_dir)
    if manifest is None or manifest.get('params') != params:
        return None
    files = list(manifest.get('ann_files', {}).values())
    files += [osp.join('images', name)
              for name in manifest.get('last_images', [])]
    if not all(osp.isfile(osp.join(out_dir, f)) for f in files):
        return None
    return manifest


def write_manifest(out_dir: str, manifest: dict) -> None:
    """Write the manifest (atomically)."""
    path = manifest_path(out_dir)
    with atomic_open(path, 'w') as f:
        json.dump(manifest, f, indent=2)


def remove_manifest(out_dir: str) -> None:
    """Delete the manifest (before rewriting a set)."""
    if osp.isfile(manifest_path(out_dir)):
        os.remove(manifest_path(out_dir))
