"""Static security check of our code: bandit finds nothing of medium or high severity."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = ["inference", "lambdas", "contracts", "state_machine", "infra", "devstack", "model", "videos", "__main__.py"]


def run_bandit(*targets: str) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from bandit.cli.main import main; sys.exit(main())",
         "-q", "-r", "-ll", "-f", "json", *targets],
        cwd=ROOT, capture_output=True, text=True,
    )
    return json.loads(result.stdout)["results"]


def test_no_medium_or_high_findings():
    findings = run_bandit(*PACKAGES)
    assert findings == [], [(f["filename"], f["line_number"], f["test_id"], f["issue_text"]) for f in findings]


def test_bandit_would_report_a_finding(tmp_path):
    unsafe = tmp_path / "unsafe.py"
    unsafe.write_text("import subprocess\nsubprocess.call(input(), shell=True)\n")
    assert run_bandit(str(unsafe))
