"""The Xilinx tool flow for a rendered build directory: Vitis HLS, then Vivado for the overlay.

``eie build`` runs, in a directory ``eie generate`` wrote:

    vitis_hls -f build.tcl -tclargs BUILD_DIR STEPS...          (csim csynth cosim export)
    vivado -mode batch -source overlays/build_overlay.tcl \\
           -tclargs BOARD BUILD_DIR OUT_DIR [JOBS]              (with --overlay OUT_DIR)

This module finds the tools ($XILINX_HLS / $XILINX_VIVADO, else the PATH),
builds the command lines, and runs them with their output shown and kept in
a log file in the build directory. Neither tool is on this project's CI
machines: the tests run the flow against stub executables that record
their arguments.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from eie.errors import ConfigError, ToolchainError

HLS_STEPS = ("csim", "csynth", "cosim", "export")


def project_file(relative: str) -> Path:
    """A file of the project beside hls/ (build.tcl, overlays/build_overlay.tcl): see eie.kernel.sources."""
    from eie.kernel import sources

    path = sources.project_file(relative)
    if not path.is_file():
        raise ConfigError(f"{relative} not found beside the HLS templates ({path}); reinstall eie-pynq")
    return path


def find_tool(name: str, home_var: str) -> str:
    """``$home_var/bin/name`` if that variable is set, else ``name`` on the PATH, else a ToolchainError."""
    home = os.environ.get(home_var)
    if home:
        cand = Path(home) / "bin" / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
        raise ToolchainError(f"{home_var}={home} has no executable bin/{name}")
    path = shutil.which(name)
    if not path:
        raise ToolchainError(
            f"{name} not found: source the Xilinx settings script (settings64.sh) or set {home_var}; "
            "`eie build --dry-run` prints the commands without running them"
        )
    return path


@dataclass(frozen=True)
class Step:
    """One tool invocation: what runs, where, and the log it writes."""

    what: str
    command: list[str]
    cwd: Path
    log: Path


def _board_of(build_dir: Path) -> str:
    from eie.hardware.config import AcceleratorConfig

    cfg = build_dir / "config.yaml"
    if not cfg.is_file():
        raise ConfigError(f"{cfg} not found: is {build_dir} a directory `eie generate` wrote?")
    return AcceleratorConfig.from_yaml(cfg).board


def plan(
    build_dir,
    steps: tuple[str, ...] = ("csim", "csynth"),
    overlay: str | Path | None = None,
    jobs: int | None = None,
    resolve_tools: bool = True,
) -> list[Step]:
    """The tool invocations for ``build_dir``; ``overlay`` adds the Vivado run (and implies export)."""
    build = Path(build_dir).resolve()
    if not (build / "params.tcl").is_file():
        raise ConfigError(f"{build}/params.tcl not found: run `eie generate -o {build_dir}` first")
    bad = [s for s in steps if s not in HLS_STEPS]
    if bad:
        raise ConfigError(f"unknown step {bad[0]!r}; the steps are {', '.join(HLS_STEPS)}")
    wanted = list(dict.fromkeys(steps))
    if overlay is not None and "export" not in wanted:
        wanted.append("export")  # the overlay instantiates the exported IP
    if jobs is not None and int(jobs) < 1:
        raise ConfigError(f"--jobs={jobs} must be at least 1")
    out: list[Step] = []
    if wanted:
        hls = find_tool("vitis_hls", "XILINX_HLS") if resolve_tools else "vitis_hls"
        cmd = [hls, "-f", str(project_file("build.tcl")), "-tclargs", str(build), *wanted]
        out.append(Step("Vitis HLS: " + " ".join(wanted), cmd, build, build / "vitis_hls.log"))
    if overlay is not None:
        viv = find_tool("vivado", "XILINX_VIVADO") if resolve_tools else "vivado"
        dest = Path(overlay).resolve()
        cmd = [viv, "-mode", "batch", "-nojournal", "-source", str(project_file("overlays/build_overlay.tcl"))]
        cmd += ["-tclargs", _board_of(build), str(build), str(dest)] + ([str(int(jobs))] if jobs else [])
        out.append(Step(f"Vivado: overlay into {dest}", cmd, build, build / "vivado.log"))
    return out


def run(step: Step, echo=sys.stdout) -> None:
    """Run one step, its output shown line by line and kept in ``step.log``; a failure names the log."""
    with open(step.log, "w") as log:
        proc = subprocess.Popen(
            step.command, cwd=step.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if echo is not None:
                echo.write(line)
        code = proc.wait()
    if code != 0:
        raise ToolchainError(f"{step.what} failed (exit {code}); its output is in {step.log}")
