"""The README's sample `eie demo` output is what `eie demo` prints for a kept real run
(docs/demo_output.json, written with the block by bench/readme_demo.py), made with the
current default hardware: a changed default (the FIFO depth, the LNZD window, the PE
count) makes the sample stale, and this test says to run the script again."""

from __future__ import annotations

import json
from pathlib import Path

from eie.demo import format_summary
from eie.hardware.config import AcceleratorConfig
from eie.hardware.target import default_config

ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- demo-output:begin -->", "<!-- demo-output:end -->"
REGENERATE = "run `python bench/readme_demo.py` to rerun the demo and rewrite the README's block"


def test_readme_sample_is_the_formatted_saved_run():
    text = (ROOT / "README.md").read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    shown = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip("\n")
    saved = json.loads((ROOT / "docs" / "demo_output.json").read_text())
    assert shown == "```\n" + format_summary(saved).strip("\n") + "\n```", REGENERATE


def test_saved_run_used_the_current_default_hardware():
    saved = json.loads((ROOT / "docs" / "demo_output.json").read_text())["config"]
    cfg: AcceleratorConfig = default_config()
    current = {
        "board": cfg.board,
        "n_pes": cfg.n_pes,
        "clock_mhz": cfg.clock,
        "fifo_depth": cfg.fifo_depth,
        "lnzd_window": cfg.lnzd_window,
    }
    assert {k: saved[k] for k in current} == current, REGENERATE
