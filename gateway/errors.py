"""Errors that carry a message meant for the person at the terminal or the client.

Services raise ``UserError`` (a bad register, an unknown connector, a closed day); the CLI
prints its message as one line on stderr and exits non-zero, the API maps it to a problem
document. Anything else is a bug: logged with its traceback, shown as one line.
"""


class UserError(Exception):
    """A refusal with a clear, one-line reason; never a bug."""

    exit_code = 2


class NotFound(UserError):
    exit_code = 3


class Forbidden(UserError):
    """The person or agent is known but their role does not allow this action."""

    exit_code = 4


class Conflict(UserError):
    """Someone else changed the thing first (a stale version, a claimed item, a closed day)."""

    exit_code = 5


class Refused(UserError):
    """A request refused for a stated reason: ``code`` is stable, ``result`` overrides OSMP."""

    def __init__(self, code: str, detail: str, result: int | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.result = result
