"""`text` is a leaf: importing it loads nothing of the project (so every package may use it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_text_imports_nothing_of_the_project():
    code = (
        "import sys, text\n"
        "ours = sorted(m for m in sys.modules if m.split('.')[0] in {'assistant', 'retrieval', 'finetune', 'prompts'})\n"
        "print(ours)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
