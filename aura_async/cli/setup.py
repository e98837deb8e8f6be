"""``aura-async --setup``: write the config file without digging for frame ids.

Part of the CLI layer. It asks for the email and password (the password without echo),
logs in, lists the account's frames, asks a section name and a folder for each (proposing
both), and writes the file where a run would read it (``--config FILE``, else
``$AURA_CONFIG``, else the default place) with mode 600, or prints it (``--config -``).
A second run keeps the file as it is and offers to add the frames it does not name yet.
With ``AURA_EMAIL`` and ``AURA_PASSWORD`` set it asks nothing: every new frame is added
with the proposed name and folder.

The text it writes is built by the pure functions at the bottom (table-tested).
"""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import getpass
import os
import re
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import typer

from aura_async.cli.console import Display, Said
from aura_async.cli.stdout import Stdout
from aura_async.config import (
    DEFAULT_API_URL,
    DEFAULT_IMAGE_URL,
    LOGIN_SECTION,
    Settings,
    check_url,
    default_config_path,
)
from aura_async.exceptions import AuraError, AuthError, ConfigError, ExitCode
from aura_async.models import Frame

__all__ = ["Prompts", "login_block", "propose_folder", "run_setup", "section_block", "slug"]

PHOTOS_HOME = "~/Pictures/aura"
"""Where proposed folders go until the user picks another parent."""


@dataclass
class Prompts:
    """How setup asks (tests give canned answers; the CLI asks on the terminal).

    Attributes:
        text: ask a line, with a default (``None``: an answer is required).
        secret: ask a line without echo.
        confirm: ask yes or no, with a default.
    """

    text: Callable[[str, str | None], str]
    secret: Callable[[str], str]
    confirm: Callable[[str, bool], bool]


def terminal_prompts() -> Prompts:
    """Questions on stderr (stdout may carry the config, with ``--config -``), answers from
    stdin; the password through getpass (no echo). Ctrl-C stays a KeyboardInterrupt (Click's
    prompts would turn it into the same error as the end of input)."""
    return Prompts(text=_ask, secret=_ask_secret, confirm=_confirm)


def _ask(question: str, default: str | None) -> str:
    """A line from stdin (``default`` for an empty one, when there is a default)."""
    suffix = f" [{default}]" if default else ""
    while True:
        sys.stderr.write(f"{question}{suffix}: ")
        sys.stderr.flush()
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        answer = line.strip()
        if answer or default is not None:
            return answer or (default or "")


def _ask_secret(question: str) -> str:
    return getpass.getpass(f"{question}: ", stream=sys.stderr)


def _confirm(question: str, default: bool) -> bool:
    while True:
        answer = _ask(f"{question} [{'Y/n' if default else 'y/N'}]", "").casefold()
        if not answer:
            return default
        if answer in ("y", "yes", "n", "no"):
            return answer.startswith("y")


def run_setup(
    config: Path | None,
    env: Mapping[str, str],
    display: Display,
    out: Stdout,
    prompts: Prompts,
    *,
    list_frames: Callable[[Settings], list[Frame]] | None = None,
) -> ExitCode:
    """Ask, log in, list, ask again, write; return the exit code.

    Args:
        config: ``--config`` (``-`` prints the config instead of writing it).
        env: the environment (``AURA_*``).
        display: where progress and errors go (stderr).
        out: stdout, for ``--config -``.
        prompts: how to ask.
        list_frames: logs in and lists the account's frames (tests may replace it).

    Raises:
        ConfigError: the existing file cannot be read or extended, or no answer came.
    """
    to_stdout = config is not None and str(config) == "-"
    path = default_config_path(env) if config is None else config.expanduser()
    scripted = bool(env.get("AURA_EMAIL") and env.get("AURA_PASSWORD"))
    existing = "" if to_stdout or not path.exists() else _read(path)
    sections, login = _parse(path, existing)
    try:
        settings = _credentials(path, env, login, prompts)
        display.secrets.add(settings.password)
        display.info(f"logging in to {settings.api_url} as {settings.email}")
        try:
            frames = (list_frames or _list_frames)(settings)
        except AuraError as exc:
            if isinstance(exc, AuthError):
                display.error(
                    Said(
                        "login refused (HTTP 475): wrong email or password, or Aura locked "
                        "the account for a while after refused logins; nothing was written"
                    )
                )
            else:
                display.error(f"{exc}; nothing was written")
            return exc.exit_code
        ids = {values.get("frame_id", ""): name for name, values in sections.items()}
        for frame in frames:
            if frame.id in ids:
                display.info(f"frame {frame.name!r} is [{ids[frame.id]}] already")
        new = [frame for frame in frames if frame.id not in ids]
        if not frames:
            display.warning("this account has no frames: nothing to add")
        elif not new:
            display.info(f"every frame of this account is in {path} already: nothing to add")
        folders = [v["file_path"] for v in sections.values() if v.get("file_path")]
        parent = str(PurePosixPath(folders[-1]).parent) if folders else PHOTOS_HOME
        taken = set(sections) | {LOGIN_SECTION}
        chosen = _choose(new, taken, parent, prompts, display, scripted)
    except EOFError:
        raise ConfigError(
            "--setup got no answer: run it on a terminal, or set AURA_EMAIL and "
            "AURA_PASSWORD to add every frame without questions"
        ) from None
    if existing and login and not chosen:
        return ExitCode.OK
    head = "" if login else login_block(settings)
    text = _joined([head, existing, *(section_block(*c) for c in chosen)])
    if to_stdout:
        out.write(text)
        return ExitCode.OK
    try:
        _write_private(path, text)
    except OSError as exc:
        display.error(f"cannot write {path}: {exc.strerror or exc}")
        return ExitCode.FAILED
    names = ", ".join(f"[{name}]" for name, _, _ in chosen) or "no frame yet"
    display.info(f"wrote {path} (mode 600): {names}")
    if chosen:
        where = "" if path == default_config_path(env) else f"--config {path} "
        display.info(
            f"next: aura-async {where}{chosen[0][0]} (one frame), or aura-async {where}--all "
            "(every frame)"
        )
    return ExitCode.OK


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: cannot read it: {exc}") from exc


def _parse(path: Path, text: str) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The existing file's frame sections and its ``[login]`` (empty when it has none).

    Raises:
        ConfigError: the file is not valid INI, or its ``[login]`` lacks the email or the
            password (setup never rewrites what it did not write).
    """
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        first_line = str(exc).splitlines()[0]
        raise ConfigError(f"config file {path}: not a valid INI file: {first_line}") from exc
    login = dict(parser[LOGIN_SECTION]) if parser.has_section(LOGIN_SECTION) else {}
    if login and not (login.get("email", "").strip() and login.get("password", "").strip()):
        raise ConfigError(
            f"config file {path}: [{LOGIN_SECTION}] lacks the email or the password: complete "
            "it by hand, or move the file away and run --setup again"
        )
    frames = {name: dict(parser[name]) for name in parser.sections() if name != LOGIN_SECTION}
    return frames, login


def _credentials(
    path: Path, env: Mapping[str, str], login: Mapping[str, str], prompts: Prompts
) -> Settings:
    """Email, password and URLs: from the environment, the file, or the user."""
    email = env.get("AURA_EMAIL") or login.get("email", "").strip()
    password = env.get("AURA_PASSWORD") or login.get("password", "").strip()
    while not email:
        email = prompts.text("Aura account email", None).strip()
    while not password:
        password = prompts.secret("Aura password (not shown)")
    api_url = env.get("AURA_API_URL") or login.get("api_url", "").strip() or DEFAULT_API_URL
    image_url = env.get("AURA_IMAGE_URL") or login.get("image_url", "").strip() or DEFAULT_IMAGE_URL
    return Settings(
        email=email,
        password=password,
        api_url=check_url(api_url, "api_url"),
        image_url=check_url(image_url, "image_url"),
        config_path=path,
    )


def _list_frames(settings: Settings) -> list[Frame]:
    from aura_async.download.session import list_frames

    return asyncio.run(list_frames(settings))


def _choose(
    frames: list[Frame],
    taken: set[str],
    parent: str,
    prompts: Prompts,
    display: Display,
    scripted: bool,
) -> list[tuple[str, Frame, str]]:
    """Section name and folder of each frame to add (every one, when scripted); each
    folder proposed beside the last one chosen (``parent`` at first)."""
    chosen: list[tuple[str, Frame, str]] = []
    for frame in frames:
        label = repr(frame.name or frame.id) + (
            "" if frame.num_assets is None else f" ({frame.num_assets} assets)"
        )
        name = unique(slug(frame.name or frame.id[:8]), taken)
        folder = propose_folder(parent, name)
        if not scripted:
            if not prompts.confirm(f"Add frame {label}?", True):
                continue
            name = _section_name(prompts, name, taken)
            folder = prompts.text("  folder for its photos", propose_folder(parent, name))
        parent = str(PurePosixPath(folder).parent)
        taken.add(name)
        chosen.append((name, frame, folder))
        display.info(f"[{name}]: {label} into {folder}")
    return chosen


def _section_name(prompts: Prompts, proposed: str, taken: Collection[str]) -> str:
    """Ask a section name until it is one (letters, digits, dashes) and not taken."""
    while True:
        answer = prompts.text("  section name in the config", proposed)
        name = slug(answer)
        if name and name not in taken:
            return name
        typer.echo(f"  {answer!r} is empty or taken ({', '.join(sorted(taken))})", err=True)


def _joined(blocks: list[str]) -> str:
    """Blocks of INI text (the existing file as it is, comments and all), a blank line
    between them."""
    parts = [block.strip("\n") for block in blocks if block.strip()]
    return "\n\n".join(parts) + "\n"


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 600, whole or not at all (a file beside it,
    flushed to disk, then renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{path.name}.setup-{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # exactly: a umask may take bits away, never add them back
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(path)
        with contextlib.suppress(OSError):  # the folder's entry durable too, where it can be
            dirfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dirfd)
            finally:
                os.close(dirfd)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


# -- the text written (pure) ---------------------------------------------------------------


def slug(name: str) -> str:
    """A section name from a frame's name: lowercase letters (any script), digits and
    dashes (``"Grandma's Kitchen"`` -> ``grandmas-kitchen``)."""
    words = re.findall(r"[^\W_]+", name.casefold().replace("'", ""))
    return "-".join(words)[:40].strip("-")


def unique(name: str, taken: Collection[str]) -> str:
    """``name``, or ``name-2``, ``name-3``... when taken (or empty: ``frame``)."""
    base = name or "frame"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def propose_folder(parent: str, name: str) -> str:
    """The folder proposed for section ``name``: beside the last one chosen."""
    return str(PurePosixPath(parent) / name)


def login_block(settings: Settings) -> str:
    """The ``[login]`` section (URLs only when not Aura's own)."""
    lines = [
        "# Written by aura-async --setup. Keep this file private (mode 600).",
        f"[{LOGIN_SECTION}]",
        f"email = {settings.email}",
        f"password = {settings.password}",
    ]
    if settings.api_url != DEFAULT_API_URL:
        lines.append(f"api_url = {settings.api_url}")
    if settings.image_url != DEFAULT_IMAGE_URL:
        lines.append(f"image_url = {settings.image_url}")
    return "\n".join(lines) + "\n"


def section_block(name: str, frame: Frame, folder: str) -> str:
    """One frame's section, its name as a comment above it."""
    comment = f"# {frame.name}\n" if frame.name else ""
    return f"{comment}[{name}]\nframe_id = {frame.id}\nfile_path = {folder}\n"
