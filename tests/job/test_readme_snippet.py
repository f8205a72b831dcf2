"""The README's job snippet runs as printed (inline instead of on a master)."""

from __future__ import annotations

import collections
import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).parents[2] / "README.md"


def test_readme_wordcount_snippet_counts_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert code is not None, "README.md lost its Python job snippet"
    source = code.group(1)
    assert 'runner="local"' in source
    text = "the quick brown fox\njumps over the lazy dog\nthe end\n"
    (tmp_path / "book.txt").write_text(text)
    out = io.StringIO()
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stdout(out):
        exec(compile(source.replace('runner="local"', 'runner="inline"'), "README", "exec"), {})
    printed = {word: int(n) for word, n in (line.split() for line in out.getvalue().splitlines())}
    assert printed == dict(collections.Counter(text.split()))
