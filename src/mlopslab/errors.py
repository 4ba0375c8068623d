"""Every error a user can cause or meet, in one hierarchy.

    MlopsLabError                 exit 1   base; `hint` says how to fix it
    ├── ConfigError               exit 2   invalid config file, variable or flag
    ├── DataError                 exit 4   unreadable data, bad target, too few rows
    ├── RegistryError             exit 5   unknown model or version, refused transition
    ├── StoreError                exit 6   workspace or tracking store unusable
    ├── StageError                exit 7   a stage failed; the registry is unchanged
    └── CourseError               exit 8   bad course content, answers or student id

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
