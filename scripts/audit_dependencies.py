"""Run pip-audit on the installed dependencies and fail on any known vulnerability.

pip-audit asks PyPI's JSON API (or OSV) about every package. Where neither can be reached
(a registry mirror without the JSON API), nothing can be audited: this is reported loudly
rather than passed off as "no known vulnerabilities".
"""

from __future__ import annotations

import json
import subprocess
import sys


def main() -> int:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip_audit",
            "--skip-editable",
            "--format",
            "json",
            "--progress-spinner",
            "off",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        print("pip-audit did not run:", result.stderr.strip()[-500:], file=sys.stderr)
        return 1
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]
    for dependency in vulnerable:
        ids = ", ".join(v["id"] for v in dependency["vulns"])
        print(f"VULNERABLE {dependency['name']} {dependency['version']}: {ids}")
    if vulnerable:
        return 1
    if not audited:
        print(
            f"WARNING: pip-audit could not reach a vulnerability database; none of the "
            f"{len(dependencies)} dependencies was audited (not a pass, not a failure)."
        )
        return 0
    print(f"pip-audit: {len(audited)} dependencies audited, no known vulnerabilities.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
