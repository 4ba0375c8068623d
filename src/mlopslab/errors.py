"""Every error a user can cause or meet, in one hierarchy.

    MlopsLabError                 exit 1   base; `hint` says how to fix it
    ├── ConfigError               exit 2   invalid config file, variable or flag
    ├── DataError                 exit 4   unreadable data, bad target, too few rows
    ├── RegistryError             exit 5   unknown model or version, refused transition
    ├── StoreError                exit 6   workspace or tracking store unusable
    │   └── CaptureFull           exit 6   serving: sync capture queue full (HTTP 503)
    ├── StageError                exit 7   a stage failed; the registry is unchanged
    ├── CourseError               exit 8   bad course content, answers or student id
    │   ├── CheckFailed           exit 8   grading: a check's expectation did not hold
    │   └── Ungradable            exit 8   grading: a submission cannot be graded
    └── ApiError                  exit 1   serving: a refused request, its HTTP status

The endpoint maps these to HTTP in one place (serving/http.py): ApiError keeps
its own status, StoreError is 503, ConfigError 500 (the server's own set-up),
DataError and RegistryError 4xx.

The grader turns CheckFailed (course/grading.py) and Ungradable
(course/autograder.py) into a submission's scored results, never a failed command.

A gate rejection is not an error: `mlopslab run --fail-on-reject` exits with
GATE_REJECTED_EXIT_CODE so CI can tell "rejected" from "broken".
"""

from __future__ import annotations

GATE_REJECTED_EXIT_CODE = 3


class MlopsLabError(Exception):
    """Base class: a message for the user, a hint for the fix, an exit code."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __reduce__(self) -> tuple[type[MlopsLabError], tuple[str, str]]:
        # Errors cross process boundaries (the registry agent): keep the hint.
        return (type(self), (self.message, self.hint))

    def one_line(self) -> str:
        """The single line the CLI prints: what happened, then how to fix it."""
        return f"{self.message}; {self.hint}" if self.hint else self.message


class ConfigError(MlopsLabError):
    exit_code = 2


class DataError(MlopsLabError):
    exit_code = 4


class RegistryError(MlopsLabError):
    exit_code = 5


class StoreError(MlopsLabError):
    exit_code = 6


class StageError(MlopsLabError):
    exit_code = 7


class CourseError(MlopsLabError):
    exit_code = 8


class Interrupted(MlopsLabError):
    """Ctrl-C or SIGTERM stopped a command part way (the shell's code for it)."""

    exit_code = 130


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, at most `limit` characters.

    Library errors carry SQL, stack dumps or response bodies after the first
    line; users get the line that says what went wrong. An empty message
    gives the exception's type name.
    """
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
