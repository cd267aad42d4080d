"""Convert the official 300W release to MMPose's JSON (thin CLI).

See :mod:`repformer_mmpose.datasets.converters.face300w` for the input
layout, the output files and their conventions; ``--help`` for options.
"""
import sys

from repformer_mmpose.datasets.converters.face300w import main

if __name__ == '__main__':
    sys.exit(main())
