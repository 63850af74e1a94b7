"""The one exception type the command turns into a one-line error."""


class StreamMaskError(Exception):
    """A problem the user can fix (bad input, missing model, ...); its message is one line."""
