"""The exceptions of the bindings: one RecurError subclass per recur_status of
include/recur.h (tests/python/test_contract.py checks the two agree), each
also a subclass of the built-in exception a Python user would catch."""


class RecurError(Exception):
    """A librecur call failed or was refused. `status` is the recur_status
    number, `name` its short text ("size mismatch"), `detail` what exactly
    was wrong ("Stream.step: x has 2 values, the model takes 1")."""

    status = None

    def __init__(self, detail, status=None):
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status

    @property
    def name(self):
        from ._native import lib
        return lib.recur_status_string(self.status).decode()

    def __str__(self):
        return self.detail


class InvalidArgumentError(RecurError, ValueError):
    status = 1


class SizeMismatchError(RecurError, ValueError):
    status = 2


class RecurIOError(RecurError, OSError):
    """The file cannot be opened or read; also an OSError (`filename` is set)."""
    status = 3

    def __init__(self, detail, filename=None):
        RecurError.__init__(self, detail)
        self.filename = filename


class BadFrameError(RecurError):
    status = 4


class BadEncodingError(RecurError):
    status = 5


class BadModelError(RecurError):
    status = 6


class UnsupportedVersionError(RecurError):
    status = 7


class TooLargeError(RecurError):
    status = 8


class OutOfMemoryError(RecurError, MemoryError):
    status = 9


class BadHandleError(RecurError, ValueError):
    """A closed Model or Stream was used (like a closed file, a ValueError)."""
    status = 10


class BufferTooSmallError(RecurError):
    status = 11


class UnsupportedError(RecurError):
    status = 12


class OutOfRangeError(RecurError, IndexError):
    status = 13


class BadSnapshotError(RecurError, ValueError):
    """Bytes given to Stream.restore are not a snapshot, or a truncated or
    corrupt one."""
    status = 14


class WrongModelError(RecurError, ValueError):
    """A snapshot of another model (or of another version of the model's
    file) was given to Stream.restore."""
    status = 15


class NoMemorySetError(RecurError, RuntimeError):
    """A stream was stepped before every attention layer had its memory
    (Stream.set_memory)."""
    status = 16


class StreamBusyError(RuntimeError):
    """A Stream was entered by a second thread while a call was in progress.
    A stream serves one thread at a time; make one stream per thread."""


BY_STATUS = {cls.status: cls for cls in RecurError.__subclasses__()}


def error(status, detail, filename=None):
    """The exception for a recur_status and its detail message."""
    cls = BY_STATUS.get(status)
    if cls is None:
        return RecurError(detail, status)
    if cls is RecurIOError:
        return cls(detail, filename)
    return cls(detail)
