"""Convert a custom face-landmark annotation to MMPose's JSON (thin CLI).

A folder of images plus a CSV (``image, x1, y1, ..., xN, yN``, empty cells
for missing points) or JSON annotation, and a point scheme (names, flip
pairs, skeleton, normalisation points) from a YAML file or the command
line. See :mod:`repformer_mmpose.datasets.converters.custom` for the
formats and ``configs/repformer/custom/README.md`` for a walkthrough::

    python tools/dataset_converters/custom2coco.py --root data/my_faces \\
        --ann train.csv test.csv --layout layout.yaml
"""
import sys

from repformer_mmpose.datasets.converters.custom import main

if __name__ == '__main__':
    sys.exit(main())
