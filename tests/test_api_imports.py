"""``repformer_mmpose.apis``: no import cycle, public API unchanged.

Before, ``inference`` imported ``visualization`` (``draw_faces``) and
``visualization`` imported ``inference`` (``FaceLandmarks``, under
``TYPE_CHECKING``). ``FaceLandmarks`` now lives in ``face_landmarks``.
"""
from __future__ import annotations

import ast
from pathlib import Path

import repformer_mmpose.apis as apis
from repformer_mmpose.apis import face_landmarks, inference, visualization

APIS = Path(apis.__file__).parent
PUBLIC = [
    'BoxSource', 'add_box_source_arguments', 'box_source_from_args',
    'BlazeFaceDetector', 'CascadeFaceDetector', 'MMDetFaceDetector',
    'build_face_detector',
    'check_boxes', 'load_boxes_json', 'FaceLandmarkDetector',
    'FaceLandmarks', 'ImageReadError', 'faces_to_json', 'predict_landmarks',
    'read_image', 'CheckpointMismatchError', 'check_state_dict',
    'init_face_model', 'load_config', 'read_state_dict', 'draw_faces',
    'MMPoseDetectorAdapter', 'use_face_detector'
]


def _imports() -> dict[str, set[str]]:
    """``{module: modules of apis it imports}``, every import statement
    counted (also those under ``if TYPE_CHECKING``)."""
    graph = {}
    for path in APIS.glob('*.py'):
        tree = ast.parse(path.read_text())
        graph[path.stem] = {
            node.module.split('.')[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 1
            and node.module
        }
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    def visit(module, path):
        if module in path:
            return path[path.index(module):] + [module]
        for imported in sorted(graph.get(module, ())):
            found = visit(imported, path + [module])
            if found:
                return found
        return None

    for module in sorted(graph):
        found = visit(module, [])
        if found:
            return found
    return None


def test_apis_modules_import_without_a_cycle():
    graph = _imports()
    assert 'inference' not in graph['visualization']
    assert _cycle(graph) is None, ' -> '.join(_cycle(graph))


def test_public_api_is_unchanged():
    assert apis.__all__ == PUBLIC
    assert apis.FaceLandmarks is face_landmarks.FaceLandmarks
    assert inference.FaceLandmarks is face_landmarks.FaceLandmarks
    assert visualization.FaceLandmarks is face_landmarks.FaceLandmarks
