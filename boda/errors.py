"""The one exception type users see: a BodaError is printed as a single line, never a traceback."""


class BodaError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class UnsupportedModelError(BodaError):
    """The model uses an op, attribute or dtype boda cannot run."""


class InputError(BodaError):
    """The inputs given to a compiled model do not match what it expects."""


class DeviceError(BodaError):
    """The requested device is not present or cannot run kernels."""


class CompileError(BodaError):
    """A generated kernel failed to compile (OpenCL build or NVRTC)."""


class BodaWarning(UserWarning):
    """Something boda did for the user that they should know of (an input cast to float32);
    the command line prints it as one `boda: note:` line."""
