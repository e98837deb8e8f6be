"""Configuration: the old script's INI file plus environment overrides, as frozen settings.

The file format is a compatibility contract (DESIGN.md): ``[login]`` holds ``email`` and
``password`` (optionally ``api_url`` and ``image_url``); every other section is a frame with
``frame_id`` and ``file_path``. Interpolation is off because passwords contain ``%`` and ``$``.

The caller passes the environment in; this module never reads ``os.environ`` itself.
"""

from __future__ import annotations

import configparser
import difflib
import ipaddress
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from aura_async.exceptions import ConfigError

DEFAULT_API_URL = "https://api.pushd.com/v5"
DEFAULT_IMAGE_URL = "https://imgproxy.pushd.com"
LOGIN_SECTION = "login"
LOGIN_KEYS = ("email", "password", "api_url", "image_url")
"""The keys ``[login]`` may hold."""
FRAME_KEYS = ("frame_id", "file_path")
"""The keys a frame section holds."""

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_IMAGE_URL",
    "FrameConfig",
    "Settings",
    "default_config_path",
    "hide_userinfo",
    "load_settings",
]


def default_config_path(env: Mapping[str, str], home: Path | None = None) -> Path:
    """Return ``$AURA_CONFIG`` or ``~/etc/aura/credentials.ini`` (the old script's default)."""
    if env.get("AURA_CONFIG"):
        return Path(env["AURA_CONFIG"]).expanduser()
    return (home if home is not None else Path.home()) / "etc" / "aura" / "credentials.ini"


@dataclass(frozen=True)
class FrameConfig:
    """One frame section: where its photos go."""

    name: str
    frame_id: str
    file_path: Path


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know from the configuration, validated.

    Attributes:
        email: the Aura account's e-mail address.
        password: its password (never shown in ``repr``).
        api_url: base of the JSON API, without a trailing slash.
        image_url: base of the image server, without a trailing slash.
        config_path: the file the settings came from (named in errors); a relative
            ``file_path`` is taken from its folder.
        frame_sections: raw key/value pairs of every frame section, by name.
        warnings: non-fatal problems the CLI should show (such as file permissions).
        config_found: the file exists (without it, the login came from ``AURA_EMAIL``
            and ``AURA_PASSWORD``, and there are no frames).
        login_from: the environment variables that override ``[login]``, for messages
            (such as ``"AURA_PASSWORD"``); empty when none do.
    """

    email: str
    password: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    image_url: str = DEFAULT_IMAGE_URL
    config_path: Path = Path("credentials.ini")
    frame_sections: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    config_found: bool = True
    login_from: str = ""

    @property
    def frame_names(self) -> list[str]:
        """Names of the frame sections, in file order."""
        return list(self.frame_sections)

    def frame(self, name: str) -> FrameConfig:
        """Return the validated frame section ``name``.

        Raises:
            ConfigError: the section or one of its keys is missing or empty.
        """
        where = f"config file {self.config_path}"
        if not self.config_found:
            raise ConfigError(
                f"{where} not found: frame [{name}] must be a section there "
                "(AURA_EMAIL and AURA_PASSWORD give only the login); aura-async --setup "
                "writes the file"
            )
        known = ", ".join(self.frame_names) or "none"
        if name == LOGIN_SECTION:
            raise ConfigError(
                f"{where}: [{LOGIN_SECTION}] holds the email and password, not a frame; "
                f"name a frame section (frames in the file: {known})"
            )
        if name not in self.frame_sections:
            raise ConfigError(f"{where}: no section [{name}] (frames in the file: {known})")
        section = self.frame_sections[name]
        values = {key: _required(section, key, where, name) for key in FRAME_KEYS}
        folder = Path(values["file_path"]).expanduser()
        return FrameConfig(
            name=name,
            frame_id=values["frame_id"],
            file_path=folder if folder.is_absolute() else self.config_path.parent / folder,
        )

    def no_frames(self) -> ConfigError:
        """The error for ``--all`` when the config names no frame."""
        where = f"config file {self.config_path}"
        if not self.config_found:
            return ConfigError(
                f"{where} not found: --all downloads the frame sections of that file "
                "(AURA_EMAIL and AURA_PASSWORD give only the login); aura-async --setup "
                "writes it"
            )
        return ConfigError(
            f"{where}: no frame sections (add one per frame with frame_id and file_path, "
            "or run aura-async --setup)"
        )


def _required(section: Mapping[str, str], key: str, where: str, name: str) -> str:
    value = section.get(key, "").strip()
    if not value:
        raise ConfigError(f"{where}: section [{name}] has no '{key}'")
    return value


def hide_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``: such a URL must never show
    its password in an error, a log line or a debug line.

    Everything up to the last ``@`` goes, even past a ``/``, ``?`` or ``#``: a password typed
    without percent-encoding may hold them, and hiding too much beats showing a password.
    """
    head, at, host = url.rpartition("@")
    if not at:
        return url
    scheme, sep, _ = head.partition("://")
    return f"{scheme}://***@{host}" if sep else f"***@{host}"


def check_url(url: str, what: str) -> str:
    """Validate a base URL: https anywhere, plain http only on loopback.

    Returns:
        The URL without a trailing slash.

    Raises:
        ConfigError: not an http(s) URL, or plain http to a non-loopback host.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what} must be an http(s) URL, got {hide_userinfo(url)!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"{what} must use https unless it points at this machine, got {hide_userinfo(url)!r}"
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(path: Path, env: Mapping[str, str]) -> Settings:
    """Read the INI file at ``path`` and apply ``AURA_*`` overrides from ``env``.

    A missing file is accepted only when ``AURA_EMAIL`` and ``AURA_PASSWORD`` are both set;
    the settings then know no frames.

    Raises:
        ConfigError: the file is missing or unreadable, ``[login]`` or a key is missing,
            or a URL is unsafe. The message names the file and the section.
    """
    where = f"config file {path}"
    parser = configparser.ConfigParser(interpolation=None)
    warnings: list[str] = []
    env_login = bool(env.get("AURA_EMAIL") and env.get("AURA_PASSWORD"))
    if path.is_file():
        try:
            with path.open(encoding="utf-8") as handle:
                parser.read_file(handle)
            mode = path.stat().st_mode
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where}: cannot read it: {exc}") from exc
        except configparser.Error as exc:
            first_line = str(exc).splitlines()[0]
            raise ConfigError(f"{where}: not a valid INI file: {first_line}") from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.append(
                f"{where} is readable by other users (mode {stat.S_IMODE(mode):03o}); "
                f"run: chmod 600 {path}"
            )
    elif path.exists():
        raise ConfigError(f"{where}: not a regular file")
    elif not env_login:
        raise ConfigError(
            f"{where} not found: create it with a [login] section "
            "(email, password) and one section per frame (frame_id, file_path)"
        )

    login: Mapping[str, str] = parser[LOGIN_SECTION] if parser.has_section(LOGIN_SECTION) else {}
    if not login and not env_login:
        raise ConfigError(f"{where}: no section [{LOGIN_SECTION}] (it needs email and password)")

    def pick(key: str, env_key: str, default: str | None = None) -> str:
        value = env.get(env_key) or login.get(key, "").strip() or default
        if not value:
            raise ConfigError(f"{where}: section [{LOGIN_SECTION}] has no '{key}'")
        return value

    frames = {name: dict(parser[name]) for name in parser.sections() if name != LOGIN_SECTION}
    warnings += unknown_keys(where, LOGIN_SECTION, login, LOGIN_KEYS)
    for name, section in frames.items():
        warnings += unknown_keys(where, name, section, FRAME_KEYS)
    folders: dict[str, str] = {}
    for name, section in frames.items():
        folder = section.get("file_path", "").strip()
        if folder and folder in folders:
            warnings.append(
                f"{where}: frames [{folders[folder]}] and [{name}] share file_path {folder}; "
                "give each frame its own folder (each folder keeps one frame's state)"
            )
        folders.setdefault(folder, name)
    return Settings(
        email=pick("email", "AURA_EMAIL"),
        password=pick("password", "AURA_PASSWORD"),
        api_url=check_url(pick("api_url", "AURA_API_URL", DEFAULT_API_URL), "api_url"),
        image_url=check_url(pick("image_url", "AURA_IMAGE_URL", DEFAULT_IMAGE_URL), "image_url"),
        config_path=path,
        frame_sections=frames,
        warnings=tuple(warnings),
        config_found=path.is_file(),
        login_from=" and ".join(key for key in ("AURA_EMAIL", "AURA_PASSWORD") if env.get(key)),
    )


def unknown_keys(
    where: str, section: str, values: Mapping[str, str], known: tuple[str, ...]
) -> list[str]:
    """A warning for each key of ``section`` that nothing reads, with the nearest known
    key when one is close (``file_pth`` -> ``file_path``)."""
    warnings = []
    for key in values:
        if key in known:
            continue
        near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean '{near[0]}'?" if near else f"known keys: {', '.join(known)}"
        warnings.append(f"{where}: [{section}] has an unknown key '{key}', ignored ({hint})")
    return warnings
