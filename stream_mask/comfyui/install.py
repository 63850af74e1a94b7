"""`stream-mask comfyui-install PATH`: the one small file that shows ComfyUI where our nodes are.

ComfyUI loads every .py file in its custom_nodes/ folder and reads NODE_CLASS_MAPPINGS from it. The file written
here only imports them from the stream-mask package, which must be installed in ComfyUI's own Python
(`python -m pip install stream-mask` with that Python): the nodes then update with the package.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import StreamMaskError
from ..publish import partial_path, publish_file

FILENAME = "stream_mask_nodes.py"
_MARK = '"""stream-mask\'s ComfyUI nodes, written by `stream-mask comfyui-install`.'
LOADER = _MARK + '''

The nodes live in the stream-mask package (stream_mask/comfyui/), installed in ComfyUI's own Python:
    python -m pip install stream-mask
"""

try:
    from stream_mask.comfyui import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
except ModuleNotFoundError as error:
    if error.name != "stream_mask":
        raise
    import sys

    raise ImportError(f"stream-mask is not installed in ComfyUI's Python: run {sys.executable} -m pip install "
                      "stream-mask") from None

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
'''


def custom_nodes_folder(path: Path) -> Path:
    """ComfyUI's custom_nodes folder from PATH: that folder itself, or a ComfyUI folder holding it."""
    if (path / "custom_nodes").is_dir():
        return path / "custom_nodes"
    if path.is_dir():
        return path
    raise StreamMaskError(f"{path} is not a folder: give ComfyUI's custom_nodes folder (or the ComfyUI folder)")


def install(path: str | Path) -> Path:
    """Write the loader into ComfyUI's custom_nodes folder; returns its path. An earlier loader of ours is replaced
    (it is the same file); any other file of that name is left alone."""
    folder = custom_nodes_folder(Path(path).expanduser())
    target = folder / FILENAME
    if target.exists():
        try:
            ours = target.read_text(encoding="utf-8").startswith(_MARK)
        except (OSError, UnicodeDecodeError):
            ours = False
        if not ours:
            raise StreamMaskError(f"{target} exists and was not written by stream-mask: left it alone")
    partial = partial_path(target)
    try:
        partial.write_text(LOADER, encoding="utf-8")
        publish_file(partial, target, overwrite=True)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise StreamMaskError(f"cannot write {target}: {error.strerror or error}") from None
    return target
