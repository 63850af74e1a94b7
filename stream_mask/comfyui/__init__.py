"""ComfyUI nodes on stream_mask: the original "A Person Mask Generator" nodes, interface for interface.

ComfyUI reads NODE_CLASS_MAPPINGS and NODE_DISPLAY_NAME_MAPPINGS from the small file that
`stream-mask comfyui-install PATH` writes into its custom_nodes/ folder (install.py); that file imports
them from here. Importing this package needs neither ComfyUI nor torch (see nodes.py).
"""

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
