"""Convert the official WFLW release to MMPose's JSON (thin CLI).

See :mod:`repformer_mmpose.datasets.converters.wflw` for the input
layout, the output files and their conventions; ``--help`` for options.
"""
import sys

from repformer_mmpose.datasets.converters.wflw import main

if __name__ == '__main__':
    sys.exit(main())
