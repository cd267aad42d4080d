"""The speed benchmark of ``tools/analysis/benchmark.py``, one concept a
module:

- :mod:`.models`: the models compared (``MODEL_SPECS``, their variants such
  as ``_ref`` and ``_nodrop``), their configs at any input size and number
  of landmarks, and training labels for them;
- :mod:`.timing`: interleaved timing (``torch.utils.benchmark``'s clock),
  peak memory, FLOPs (mmengine's ``FlopAnalyzer``);
- :mod:`.machine`: the machine and the run (mmengine's ``collect_env()``,
  physical cores, CPU model);
- :mod:`.runner`: every figure of every model, in one process;
- :mod:`.report`: the Markdown report.
"""
from .machine import cpu_model, environment_info, physical_cores
from .models import (DEFAULT_MODELS, MODEL_SPECS, VARIANTS, ModelSpec,
                     Variant, build_model, make_data_samples, model_config)
from .report import markdown_report
from .runner import measure
from .timing import count_flops, interleaved, peak_memory_mib

__all__ = [
    'DEFAULT_MODELS', 'MODEL_SPECS', 'VARIANTS', 'ModelSpec', 'Variant',
    'build_model', 'count_flops', 'cpu_model', 'environment_info',
    'interleaved', 'make_data_samples', 'markdown_report', 'measure',
    'model_config', 'peak_memory_mib', 'physical_cores'
]
