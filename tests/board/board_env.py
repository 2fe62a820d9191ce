"""Python source that makes a subprocess look like the PYNQ image: the host-only
packages cannot be imported there. Prefix it to a board-side script."""

BOARD_ONLY = r"""
import sys
class _NotOnTheBoard:
    BANNED = ("sklearn", "scipy", "jinja2", "torch", "yaml", "matplotlib", "hls4ml")
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BANNED:
            raise ImportError(f"{name} is not on the board")
        return None
sys.meta_path.insert(0, _NotOnTheBoard())
"""
