"""Where frames come from (being split into one module per family)."""

from .files import IMAGE_EXTENSIONS, VideoFileSource, open_source, read_image  # noqa: F401
