"""The exception tree: what each error says of itself (retryable, fatal, stops_run, exit
code), the builtins it also is, and that the tree drawn in the module docstring is true."""

from __future__ import annotations

import inspect
import re

import pytest

from aura_async import exceptions
from aura_async.exceptions import (
    ApiError,
    AuraError,
    AuthError,
    ConfigError,
    ExitCode,
    ExpiredUrl,
    LockHeld,
    ManifestError,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    StateUnreadable,
    StorageError,
    TransportError,
    WaitedTooLong,
    is_retryable,
)

Policy = tuple[type[Exception], type[Exception] | None, bool, bool, bool, ExitCode]
"""(parent, builtin it also is, retryable, fatal, stops_run, exit code)"""

POLICY: dict[type[AuraError], Policy] = {
    AuraError: (Exception, None, False, False, False, ExitCode.FAILED),
    ConfigError: (AuraError, ValueError, False, False, False, ExitCode.USAGE),
    ManifestError: (AuraError, ValueError, False, False, False, ExitCode.FAILED),
    StorageError: (AuraError, OSError, False, True, False, ExitCode.FAILED),
    StateUnreadable: (StorageError, OSError, False, True, False, ExitCode.FAILED),
    LockHeld: (AuraError, None, False, False, False, ExitCode.LOCKED),
    ApiError: (AuraError, None, False, False, False, ExitCode.FAILED),
    AuthError: (ApiError, None, False, True, True, ExitCode.LOGIN),
    NotFound: (ApiError, None, False, False, False, ExitCode.NOT_FOUND),
    RateLimited: (ApiError, None, True, True, True, ExitCode.THROTTLED),
    WaitedTooLong: (RateLimited, None, False, True, True, ExitCode.THROTTLED),
    ServerError: (ApiError, None, True, False, False, ExitCode.FAILED),
    TransportError: (ApiError, None, True, False, False, ExitCode.FAILED),
    ExpiredUrl: (ApiError, None, False, False, False, ExitCode.FAILED),
    ProtocolError: (ApiError, None, False, False, False, ExitCode.FAILED),
}


def _defined_errors() -> set[type[AuraError]]:
    """Every error class the module defines."""
    return {
        value
        for value in vars(exceptions).values()
        if inspect.isclass(value)
        and issubclass(value, AuraError)
        and value.__module__ == exceptions.__name__
    }


def test_the_table_covers_every_class() -> None:
    """No error class of exceptions.py is missing from the policy table below."""
    assert set(POLICY) == _defined_errors()


@pytest.mark.parametrize("cls", list(POLICY), ids=lambda cls: cls.__name__)
def test_policy(cls: type[AuraError]) -> None:
    """Each class carries its policy: retryable, fatal, stops_run and its exit code."""
    parent, builtin, retryable, fatal, stops_run, exit_code = POLICY[cls]
    assert cls.__bases__[0] is parent
    if builtin is not None:
        assert issubclass(cls, builtin)
    assert (cls.retryable, cls.fatal, cls.stops_run, cls.exit_code) == (
        retryable,
        fatal,
        stops_run,
        exit_code,
    )


@pytest.mark.parametrize("cls", list(POLICY), ids=lambda cls: cls.__name__)
def test_is_retryable_follows_the_class(cls: type[AuraError]) -> None:
    """is_retryable says what the instance's class says."""
    assert is_retryable(cls("x")) is POLICY[cls][2]


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (RateLimited("429", status=429), True),
        (RateLimited("503", status=503), True),
        (WaitedTooLong("past --max-wait", status=429), False),
        (ServerError("500", status=500), True),
        (TransportError("reset"), True),
        (NotFound("404", status=404), False),
        (AuthError("475", status=475), False),
        (ExpiredUrl("403", status=403), False),
        (ProtocolError("418", status=418), False),
        (ManifestError("shape"), False),
        (StorageError("disk full"), False),
        (ValueError("bug"), False),
    ],
)
def test_classification(error: BaseException, retry: bool) -> None:
    """Throttling, 5xx and transport trouble are retried; the rest fail at once."""
    assert is_retryable(error) is retry


@pytest.mark.parametrize(
    "error", [ValueError("bug"), OSError("disk"), TimeoutError(), KeyboardInterrupt()]
)
def test_errors_not_ours_are_never_retryable(error: BaseException) -> None:
    """Anything outside the tree (a bug, an untranslated error) is not retried."""
    assert is_retryable(error) is False


def test_attributes_of_the_errors_that_carry_some() -> None:
    """ApiError keeps url and status, RateLimited its retry_after, LockHeld the holder."""
    api = ApiError("boom", url="https://x/y", status=500)
    assert (str(api), api.url, api.status) == ("boom", "https://x/y", 500)
    assert (ApiError("no answer").url, ApiError("no answer").status) == ("", None)
    throttled = RateLimited("slow down", url="u", status=429, retry_after=2.5)
    assert (throttled.url, throttled.status, throttled.retry_after) == ("u", 429, 2.5)
    assert RateLimited("slow down").retry_after is None
    held = LockHeld("locked", holder="pid 1 on host")
    assert (str(held), held.holder) == ("locked", "pid 1 on host")
    assert LockHeld("locked").holder == ""


_ROW = re.compile(r"^[\s│]*(?:[├└]── )?(?P<name>\w+)(?:\([^)]*\))?\s+(?P<rest>.*)$")


def _drawn_tree() -> dict[str, tuple[bool, bool, bool, int]]:
    """The docstring's rows: name -> (retry, fatal, stops, exit code) as drawn."""
    rows = {}
    doc = exceptions.__doc__ or ""
    for line in doc.split("::", 1)[1].splitlines():
        match = _ROW.match(line)
        if match is None or match["name"] == "retryable":
            continue
        words = match["rest"].split()
        rows[match["name"]] = (
            "retry" in words,
            "fatal" in words,
            "stops" in words,
            int(words[-1]),
        )
    return rows


def test_the_drawn_tree_says_what_the_classes_say() -> None:
    """The module docstring's tree lists every class with its true policy."""
    drawn = _drawn_tree()
    assert set(drawn) == {cls.__name__ for cls in POLICY}
    for cls in POLICY:
        assert drawn[cls.__name__] == (
            cls.retryable,
            cls.fatal,
            cls.stops_run,
            int(cls.exit_code),
        ), cls.__name__


def test_exit_codes_are_the_documented_ones() -> None:
    """The command's exit codes, as DESIGN.md's CLI contract numbers them."""
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0,
        "FAILED": 1,
        "USAGE": 2,
        "LOGIN": 3,
        "NOT_FOUND": 4,
        "THROTTLED": 5,
        "LOCKED": 6,
        "INTERRUPTED": 130,
    }
