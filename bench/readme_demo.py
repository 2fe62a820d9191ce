"""The README's sample `eie demo` output, from a real run.

    python bench/readme_demo.py            # run `eie demo --json`, keep it, rewrite the README's block
    python bench/readme_demo.py --from F   # rewrite the block from a saved `eie demo --json` output

The run's JSON is kept in docs/demo_output.json; the README's block between
the `demo-output` markers is `eie.demo.format_summary` of it, exactly what
`eie demo` prints for that run. tests/cli/test_readme_demo.py checks that the
two agree and that the run was made with the current default hardware.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SAVED = ROOT / "docs" / "demo_output.json"
BEGIN, END = "<!-- demo-output:begin -->", "<!-- demo-output:end -->"


def block(summary: dict) -> str:
    from eie.demo import format_summary

    return "```\n" + format_summary(summary).strip("\n") + "\n```"


def readme_block(text: str) -> str:
    """The README's sample output between the markers."""
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise SystemExit(f"README.md must hold one {BEGIN} ... {END} block")
    return text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip("\n")


def main() -> int:
    from eie.safeio import atomic_write

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="source", help="a saved `eie demo --json` output instead of a new run")
    args = ap.parse_args()
    if args.source:
        summary = json.loads(Path(args.source).read_text())
    else:
        cmd = [sys.executable, "-m", "eie", "demo", "--json", "--out", "build/demo", "--force"]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
        summary = json.loads(proc.stdout)
    atomic_write(SAVED, json.dumps(summary, indent=1) + "\n")
    text = README.read_text()
    old = readme_block(text)
    atomic_write(README, text.replace(old, block(summary)))
    print(f"wrote {SAVED.relative_to(ROOT)} and the README's demo block")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
