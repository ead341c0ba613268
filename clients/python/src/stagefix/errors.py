"""Typed exceptions: one class per stagefix exit code, all subclasses of StagefixError."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple, Type

__all__ = [
    "StagefixError",
    "RemoteCommandError",
    "UsageError",
    "InvalidInputError",
    "AuthenticationError",
    "UnreachableError",
    "StagefixTimeout",
    "HostKeyError",
    "GuardRefused",
    "ConfigurationError",
    "BinaryNotFound",
    "EXIT_CODES",
    "error_class",
]


class StagefixError(Exception):
    """A stagefix command failed.

    Attributes:
        exit_code: the process's exit code (for ``exec``/``manage`` with ``check=True``, the remote
            status when the remote command itself failed); ``None`` when stagefix did not run.
        kind: the ``kind`` of ``{"ok": false, "error": {...}}`` (``"guard"``, ``"timeout"``...).
        message: the CLI's error text (already secret-masked by stagefix), without "stagefix: ".
        stderr: the command's whole stderr.
        stdout: the command's whole stdout.
        argv: the argument list that ran (no environment: env values never appear here).
        result: the parsed JSON document on stdout when there was one (``play``: the full report).
    """

    exit_code_default: Optional[int] = None
    kind_default: str = "error"

    def __init__(
        self,
        message: str,
        *,
        exit_code: Optional[int] = None,
        kind: Optional[str] = None,
        stderr: str = "",
        stdout: str = "",
        argv: Optional[Sequence[str]] = None,
        result: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = self.exit_code_default if exit_code is None else exit_code
        self.kind = kind or self.kind_default
        self.stderr = stderr
        self.stdout = stdout
        self.argv = list(argv) if argv is not None else []
        self.result = result

    @property
    def returncode(self) -> Optional[int]:
        """Alias of exit_code, as in subprocess.CalledProcessError."""
        return self.exit_code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return "%s(exit_code=%r, kind=%r, message=%r)" % (
            type(self).__name__,
            self.exit_code,
            self.kind,
            self.message,
        )

    # Exceptions are pickled by pytest-xdist and multiprocessing: keep the attributes.
    def __reduce__(self) -> Tuple[Any, ...]:
        return (
            _rebuild,
            (
                type(self),
                self.message,
                {
                    "exit_code": self.exit_code,
                    "kind": self.kind,
                    "stderr": self.stderr,
                    "stdout": self.stdout,
                    "argv": self.argv,
                    "result": self.result,
                },
            ),
        )


def _rebuild(cls: Type[StagefixError], message: str, attrs: Dict[str, Any]) -> StagefixError:
    return cls(message, **attrs)


class RemoteCommandError(StagefixError):
    """Exit 1: a remote command failed (its status and the tail of its stderr, secrets masked)."""

    exit_code_default = 1
    kind_default = "remote_failure"


class UsageError(StagefixError):
    """Exit 64: the command line was wrong (or a flush without confirmation)."""

    exit_code_default = 64
    kind_default = "usage"


class InvalidInputError(StagefixError, ValueError):
    """Exit 65: bad input data: an invalid email, a malformed env file, playbook or config value."""

    exit_code_default = 65
    kind_default = "invalid_data"


class AuthenticationError(StagefixError):
    """Exit 67: SSH authentication failed (every method and key tried is named)."""

    exit_code_default = 67
    kind_default = "authentication"


class UnreachableError(StagefixError, ConnectionError):
    """Exit 69: DNS failure, connection refused or lost."""

    exit_code_default = 69
    kind_default = "unreachable"


class StagefixTimeout(StagefixError, TimeoutError):
    """Exit 75: timed out (what was running, and for how long); also a builtin TimeoutError."""

    exit_code_default = 75
    kind_default = "timeout"


class HostKeyError(StagefixError):
    """Exit 76: the host key is unknown or changed; nothing was run."""

    exit_code_default = 76
    kind_default = "host_key"


class GuardRefused(StagefixError):
    """Exit 77: refused by the production guard; nothing was run. No option overrides it."""

    exit_code_default = 77
    kind_default = "guard"


class ConfigurationError(StagefixError):
    """Exit 78: a configuration error (ssh_config or stagefix.yml, with file and line)."""

    exit_code_default = 78
    kind_default = "configuration"


class BinaryNotFound(StagefixError, FileNotFoundError):
    """The stagefix executable could not be found or started (nothing ran)."""

    kind_default = "binary_not_found"


EXIT_CODES: Dict[int, Type[StagefixError]] = {
    1: RemoteCommandError,
    64: UsageError,
    65: InvalidInputError,
    67: AuthenticationError,
    69: UnreachableError,
    75: StagefixTimeout,
    76: HostKeyError,
    77: GuardRefused,
    78: ConfigurationError,
}


def error_class(exit_code: Optional[int]) -> Type[StagefixError]:
    """The exception class for an exit code (StagefixError itself for codes stagefix does not use)."""
    if exit_code is None:
        return StagefixError
    return EXIT_CODES.get(exit_code, StagefixError)
