"""stagefix: Django test fixtures on a staging server (an empty database, logged-in sessions), from
Python tests, through the stagefix command-line tool. Never on production."""

from .client import Email, Stagefix, play_sessions
from .errors import (
    EXIT_CODES,
    AuthenticationError,
    BinaryNotFound,
    ConfigurationError,
    GuardRefused,
    HostKeyError,
    InvalidInputError,
    RemoteCommandError,
    StagefixError,
    StagefixTimeout,
    UnreachableError,
    UsageError,
    error_class,
)
from .session import Session, sessions_from_json

__version__ = "0.1.0"

__all__ = [
    "Stagefix",
    "Email",
    "Session",
    "play_sessions",
    "sessions_from_json",
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
