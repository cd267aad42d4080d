"""The commands in README.md and docs/ name what exists: every script,
config and flag of a fenced shell block. A renamed flag or a moved
config fails here, not on a reader's machine."""
from __future__ import annotations

import contextlib
import io
import re
import shlex
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / 'README.md', *sorted((REPO / 'docs').glob('*.md')),
        *sorted(REPO.glob('configs/**/README.md')),
        *sorted(REPO.glob('projects/*/README.md'))]
FENCE = re.compile(r'```(?:bash|sh|shell)?\n(.*?)```', re.S)
# placeholders the docs use for what the reader fills in
PLACEHOLDER = re.compile(r'[A-Z]{3,}|\.\.\.|\*|<|\{|\$')


def commands(doc: Path) -> list[str]:
    """The shell lines of ``doc``'s fenced blocks, continuations joined,
    comments dropped."""
    lines = []
    for block in FENCE.findall(doc.read_text()):
        block = block.replace('\\\n', ' ')
        for line in block.splitlines():
            line = line.split(' #')[0].strip()
            if line and not line.startswith('#'):
                lines.append(line)
    return lines


def words(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:  # an unbalanced quote in prose-like lines
        return line.split()


CASES = [(doc, line) for doc in DOCS for line in commands(doc)]


def test_the_docs_have_commands():
    assert len(CASES) > 50


@pytest.mark.parametrize('doc,line', CASES,
                         ids=[f'{d.relative_to(REPO)}:{i}'
                              for i, (d, _) in enumerate(CASES)])
def test_scripts_and_configs_exist(doc, line):
    for word in words(line):
        path = word.split('=', 1)[-1]
        if PLACEHOLDER.search(path) or 'work_dirs' in path:
            continue
        if re.match(r'^(tools|configs|projects)/\S+\.(py|sh)$', path):
            assert (REPO / path).is_file(), f'{doc.name}: {path} missing'


_FLAGS: dict[str, set[str]] = {}


def tool_flags(script: str, load_tool) -> set[str]:
    """Every ``--flag`` a tool's ``--help`` lists (ours and, for train
    and test, MMPose's)."""
    if script not in _FLAGS:
        module = load_tool(script[len('tools/'):-len('.py')])
        out = io.StringIO()
        parse = getattr(module, 'parse_args', None) or module.main
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            try:
                parse(['--help'])
            except TypeError:  # a parse_args() that reads sys.argv
                with pytest.MonkeyPatch.context() as patch:
                    patch.setattr(sys, 'argv', [script, '--help'])
                    parse()
        _FLAGS[script] = set(re.findall(r'--[a-z][a-z0-9_-]*',
                                        out.getvalue()))
    return _FLAGS[script]


@pytest.mark.parametrize('doc,line', CASES,
                         ids=[f'{d.relative_to(REPO)}:{i}'
                              for i, (d, _) in enumerate(CASES)])
def test_flags_exist(doc, line, load_tool):
    parts = words(line)
    scripts = [i for i, w in enumerate(parts)
               if re.match(r'^tools/\S+\.py$', w)]
    for start, index in enumerate(scripts):
        script = parts[index]
        if not (REPO / script).is_file():
            continue
        end = scripts[start + 1] if start + 1 < len(scripts) else len(parts)
        flags = {w.split('=')[0] for w in parts[index + 1:end]
                 if w.startswith('--') and not PLACEHOLDER.search(w)}
        unknown = flags - tool_flags(script, load_tool)
        assert not unknown, f'{doc.name}: {script} has no {sorted(unknown)}'


def test_flag_lists_hold_ours_and_mmposes(load_tool):
    """The check above can fail: the flag lists are the tools' own."""
    train = tool_flags('tools/train.py', load_tool)
    test = tool_flags('tools/test.py', load_tool)
    assert {'--no-validate', '--amp', '--data-root',
            '--channels-last'} <= train
    assert {'--show-dir', '--dump', '--badcase', '--report',
            '--output-stages'} <= test
    assert '--report' not in train and '--no-such-flag' not in test
