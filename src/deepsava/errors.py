"""The error vocabulary: every user error raised by deepsava is one of these.

The CLI turns them into one-line messages and the exit codes below (2 is left
to usage errors of the command line itself); anything else is a bug and keeps its
traceback. One rule for files: an input the command reads as a video, a
checkpoint, a dataset or a config gets that kind's code when it is missing or
malformed (4, 5, 6, 7); 8 is for a file operation the operating system refuses
(permissions, a folder in the way, disk full), reading or writing.
"""


class DeepSAVAError(Exception):
    """Base class of every error deepsava raises on purpose."""

    exit_code = 3


class InvalidArgumentError(DeepSAVAError, ValueError):
    """A function or command was called with a value it cannot use."""

    exit_code = 3


class InvalidVideoError(DeepSAVAError, ValueError):
    """A video tensor or file is malformed, corrupted, too short or not a video."""

    exit_code = 4


class InvalidCheckpointError(DeepSAVAError, ValueError):
    """A checkpoint cannot be loaded safely or does not match the model asked for."""

    exit_code = 5


class InvalidDatasetError(DeepSAVAError, ValueError):
    """A dataset root lacks its split files or its layout is not the expected one."""

    exit_code = 6


class InvalidConfigError(DeepSAVAError, ValueError):
    """An experiment configuration has an unknown key, a wrong type or a bad value."""

    exit_code = 7


FILE_SYSTEM_EXIT_CODE = 8

EXIT_CODES = {
    0: "success",
    1: "unexpected error (a bug: the traceback is shown; please report it)",
    2: "usage error: unknown option or malformed option value",
    **{cls.exit_code: f"{cls.__name__}: {cls.__doc__[0].lower()}{cls.__doc__[1:].rstrip('.')}"
       for cls in (InvalidArgumentError, InvalidVideoError, InvalidCheckpointError, InvalidDatasetError,
                   InvalidConfigError)},
    FILE_SYSTEM_EXIT_CODE: "the operating system refused to read or write a file or folder (permissions, a folder"
                           " in the way, disk full); a missing or malformed input has its kind's code (4 video,"
                           " 5 checkpoint, 6 dataset, 7 config)",
    130: "interrupted (Ctrl-C); results stored so far are kept",
}
