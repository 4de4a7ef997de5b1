"""The code shipped in model.tar.gz must run on the MXNet container's Python 3.8."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_inference_code_runs_on_python_38():
    from infra.archives import MODEL_CONTRACTS

    shipped_contracts = [os.path.join(ROOT, "contracts", name) for name in MODEL_CONTRACTS]
    result = subprocess.run(
        [sys.executable, "-c", "import sys, vermin; sys.exit(vermin.main())", "--no-tips", "--violations", "-t=3.8-", "--eval-annotations",
         os.path.join(ROOT, "inference"), *shipped_contracts],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_vermin_would_notice_newer_syntax(tmp_path):
    newer = tmp_path / "newer.py"
    newer.write_text("def f(x):\n    match x:\n        case 1:\n            return 1\n")
    result = subprocess.run(
        [sys.executable, "-c", "import sys, vermin; sys.exit(vermin.main())", "--no-tips", "--violations", "-t=3.8-", str(newer)], capture_output=True, text=True
    )
    assert result.returncode != 0
