"""Config file and environment: the old script's format, every error path."""

from __future__ import annotations

from pathlib import Path

import pytest

from aura_async.config import (
    DEFAULT_API_URL,
    DEFAULT_IMAGE_URL,
    check_url,
    default_config_path,
    hide_userinfo,
    load_settings,
)
from aura_async.exceptions import ConfigError

GOOD = """\
# Credentials to log into api.auraframes.com
[login]
email = me@example.com
password = mYpa$$w0rd-%11

[frame_1]
file_path = ./images
frame_id  = abf53be3-b73d-4de3-98cd-cfd289bd82df

[frame_2]
file_path = ~/images-frame_2
frame_id = b69ddd8d-bcad-483f-adf4-e15ff9a48c47
"""


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "credentials.ini"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


class TestLoad:
    def test_old_script_file_loads_unchanged(self, tmp_path: Path) -> None:
        """The old script's file, with % and $ in the password, loads as written."""
        settings = load_settings(write(tmp_path, GOOD), {})
        assert settings.email == "me@example.com"
        assert settings.password == "mYpa$$w0rd-%11"
        assert settings.api_url == DEFAULT_API_URL
        assert settings.image_url == DEFAULT_IMAGE_URL
        assert settings.frame_names == ["frame_1", "frame_2"]
        frame = settings.frame("frame_1")
        assert frame.frame_id == "abf53be3-b73d-4de3-98cd-cfd289bd82df"
        assert frame.file_path == tmp_path / "images"  # beside the config file
        assert settings.warnings == ()

    def test_home_is_expanded_in_file_path(self, tmp_path: Path) -> None:
        """A ``~`` in file_path means the user's home folder."""
        settings = load_settings(write(tmp_path, GOOD), {})
        assert settings.frame("frame_2").file_path == Path.home() / "images-frame_2"

    def test_environment_overrides_file(self, tmp_path: Path) -> None:
        """AURA_EMAIL, AURA_PASSWORD, AURA_API_URL and AURA_IMAGE_URL win over the file."""
        env = {
            "AURA_EMAIL": "env@example.com",
            "AURA_PASSWORD": "env-pw",
            "AURA_API_URL": "http://127.0.0.1:9/v5/",
            "AURA_IMAGE_URL": "https://images.example.com",
        }
        settings = load_settings(write(tmp_path, GOOD), env)
        assert (settings.email, settings.password) == ("env@example.com", "env-pw")
        assert settings.api_url == "http://127.0.0.1:9/v5"
        assert settings.image_url == "https://images.example.com"

    def test_urls_from_login_section(self, tmp_path: Path) -> None:
        """Optional api_url and image_url keys in [login] are honoured."""
        text = GOOD.replace(
            "[frame_1]",
            "api_url = https://api.example.com/v5\nimage_url = http://localhost:8080\n\n[frame_1]",
        )
        settings = load_settings(write(tmp_path, text), {})
        assert settings.api_url == "https://api.example.com/v5"
        assert settings.image_url == "http://localhost:8080"

    def test_env_only_credentials_without_file(self, tmp_path: Path) -> None:
        """With AURA_EMAIL and AURA_PASSWORD set, a missing file is no error."""
        env = {"AURA_EMAIL": "a@b.c", "AURA_PASSWORD": "pw"}
        settings = load_settings(tmp_path / "missing.ini", env)
        assert settings.frame_names == []

    def test_password_not_in_repr(self, tmp_path: Path) -> None:
        """The password never shows in the settings' repr."""
        settings = load_settings(write(tmp_path, GOOD), {})
        assert "mYpa" not in repr(settings)

    def test_group_readable_file_warns(self, tmp_path: Path) -> None:
        """A config readable by others gets an ssh-style warning naming the fix."""
        settings = load_settings(write(tmp_path, GOOD, 0o644), {})
        assert len(settings.warnings) == 1
        assert "chmod 600" in settings.warnings[0]
        assert "644" in settings.warnings[0]


class TestErrors:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("[frame_1]\nframe_id = x\nfile_path = y\n", "no section [login]"),
            ("[login]\npassword = p\n", "section [login] has no 'email'"),
            ("[login]\nemail = e\n", "section [login] has no 'password'"),
            ("[login]\nemail = e\npassword =\n", "section [login] has no 'password'"),
            ("[login\nemail = e\n", "not a valid INI file"),
            ("email = e\n", "not a valid INI file"),
            ("[login]\nemail = e\npassword = p\napi_url = ftp://x\n", "api_url must be"),
            (
                "[login]\nemail = e\npassword = p\nimage_url = http://example.com\n",
                "image_url must use https",
            ),
        ],
    )
    def test_bad_file_names_file_and_section(
        self, tmp_path: Path, text: str, expected: str
    ) -> None:
        """Each broken file gives one line naming what is wrong."""
        path = write(tmp_path, text)
        with pytest.raises(ConfigError) as info:
            load_settings(path, {})
        message = str(info.value)
        assert expected in message
        assert "\n" not in message
        if "must" not in expected:
            assert str(path) in message

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file is named, with a hint of what it must hold."""
        path = tmp_path / "nope.ini"
        with pytest.raises(ConfigError, match=r"nope\.ini not found.*\[login\]"):
            load_settings(path, {})

    def test_folder_instead_of_file(self, tmp_path: Path) -> None:
        """A folder where the file should be is an error, not a crash."""
        with pytest.raises(ConfigError, match="not a regular file"):
            load_settings(tmp_path, {})

    def test_missing_frame_section_lists_known_ones(self, tmp_path: Path) -> None:
        """Asking for an unknown frame names the file and the frames it has."""
        settings = load_settings(write(tmp_path, GOOD), {})
        with pytest.raises(ConfigError, match=r"no section \[nope\] \(frames in the file: frame_1"):
            settings.frame("nope")

    @pytest.mark.parametrize("key", ["frame_id", "file_path"])
    def test_missing_frame_key(self, tmp_path: Path, key: str) -> None:
        """A frame section without frame_id or file_path names the section and key."""
        text = "[login]\nemail = e\npassword = p\n[f]\nframe_id = x\nfile_path = y\n"
        text = "\n".join(line for line in text.splitlines() if not line.startswith(key))
        settings = load_settings(write(tmp_path, text), {})
        with pytest.raises(ConfigError, match=rf"section \[f\] has no '{key}'"):
            settings.frame("f")

    def test_config_error_is_value_error(self) -> None:
        """ConfigError can be caught as ValueError, like the builtin it refines."""
        assert issubclass(ConfigError, ValueError)


class TestPaths:
    def test_default_path(self, tmp_path: Path) -> None:
        """The default is ~/etc/aura/credentials.ini, as the old script's."""
        assert default_config_path({}, tmp_path) == tmp_path / "etc" / "aura" / "credentials.ini"

    def test_env_path(self, tmp_path: Path) -> None:
        """AURA_CONFIG overrides the default."""
        assert default_config_path({"AURA_CONFIG": str(tmp_path / "x.ini")}) == tmp_path / "x.ini"

    @pytest.mark.parametrize(
        ("url", "ok"),
        [
            ("https://api.pushd.com/v5", True),
            ("http://127.0.0.1:8080/v5", True),
            ("http://localhost:1", True),
            ("http://[::1]:1", True),
            ("http://api.pushd.com/v5", False),
            ("http://10.0.0.1/v5", False),
            ("file:///etc/passwd", False),
            ("not a url", False),
        ],
    )
    def test_url_check(self, url: str, ok: bool) -> None:
        """Plain http is allowed only to this machine."""
        if ok:
            assert check_url(url + "/", "api_url") == url
        else:
            with pytest.raises(ConfigError):
                check_url(url, "api_url")


class TestHideUserinfo:
    @pytest.mark.parametrize(
        ("url", "shown"),
        [
            ("http://mom:S3cr3t@127.0.0.1:1/v5", "http://***@127.0.0.1:1/v5"),
            ("https://mom@api.example/v5", "https://***@api.example/v5"),
            ("ftp://mom:S3cr3t@host", "ftp://***@host"),
            ("http://mom:p@ss@127.0.0.1/v5", "http://***@127.0.0.1/v5"),
            ("http://mom:S3:cr3t@[::1]:8080/v5?x=1#f", "http://***@[::1]:8080/v5?x=1#f"),
            ("http://mom:S3%2Fcr3t@127.0.0.1/v5", "http://***@127.0.0.1/v5"),
            ("http://mom:S3/cr3t@127.0.0.1/v5", "http://***@127.0.0.1/v5"),
            ("http://mom:S3#cr3t@127.0.0.1/v5", "http://***@127.0.0.1/v5"),
            ("http://mom:S3?cr3t@127.0.0.1/v5", "http://***@127.0.0.1/v5"),
            ("mom:S3cr3t@127.0.0.1/v5", "***@127.0.0.1/v5"),
            ("https://api.pushd.com/v5", "https://api.pushd.com/v5"),
            ("http://127.0.0.1:8080/v5?Signature=s", "http://127.0.0.1:8080/v5?Signature=s"),
            ("not a url", "not a url"),
            ("https://host/v5?to=a@b", "https://***@b"),  # too much hidden, never too little
        ],
    )
    def test_table(self, url: str, shown: str) -> None:
        """Whatever comes before the host's '@' (user, password, even one typed with '/',
        '#' or '?' unescaped) is hidden; a URL without one is unchanged."""
        assert hide_userinfo(url) == shown

    @pytest.mark.parametrize(
        "url",
        [
            "ftp://mom:S3cr3t@host",
            "http://mom:S3cr3t@api.example/v5",
            "http://mom:S3/cr3t@127.0.0.1/v5",
            "http://mom:S3#cr3t@127.0.0.1/v5",
            "mom:S3cr3t@127.0.0.1",
        ],
    )
    def test_url_errors_hide_it(self, url: str) -> None:
        """A URL refused by validation is quoted in the error without its user:password@."""
        with pytest.raises(ConfigError) as caught:
            check_url(url, "api_url")
        assert "S3" not in str(caught.value)
        assert "mom" not in str(caught.value)
        assert "***@" in str(caught.value)


def test_frames_sharing_a_folder_warn(tmp_path: Path) -> None:
    """Two frames with one file_path get a warning: a folder keeps one frame's state."""
    text = GOOD.replace("~/images-frame_2", "./images")
    settings = load_settings(write(tmp_path, text), {})
    (warning,) = settings.warnings
    assert "[frame_1] and [frame_2] share file_path ./images" in warning


class TestMistakes:
    def test_relative_file_path_is_beside_the_config_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A relative file_path is taken from the config file's folder, not from the current
        directory (cron starts in $HOME)."""
        folder = tmp_path / "etc"
        folder.mkdir()
        elsewhere = tmp_path / "cwd"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        settings = load_settings(write(folder, GOOD), {})
        assert settings.frame("frame_1").file_path == folder / "images"

    @pytest.mark.parametrize(
        ("section", "key", "hint"),
        [
            ("frame_1", "file_pth", "did you mean 'file_path'?"),
            ("frame_1", "frameid", "did you mean 'frame_id'?"),
            ("login", "pasword", "did you mean 'password'?"),
            ("frame_1", "colour", "known keys: frame_id, file_path"),
        ],
    )
    def test_unknown_key_warns_with_a_suggestion(
        self, tmp_path: Path, section: str, key: str, hint: str
    ) -> None:
        """A key nothing reads is named in a warning, with the nearest known key."""
        text = GOOD.replace(f"[{section}]\n", f"[{section}]\n{key} = x\n")
        settings = load_settings(write(tmp_path, text), {})
        assert settings.warnings == (
            f"config file {tmp_path / 'credentials.ini'}: [{section}] has an unknown key "
            f"'{key}', ignored ({hint})",
        )

    def test_login_is_not_a_frame(self, tmp_path: Path) -> None:
        """Asking for [login] as a frame says what [login] is for."""
        settings = load_settings(write(tmp_path, GOOD), {})
        with pytest.raises(ConfigError, match=r"\[login\] holds the email and password, not a "):
            settings.frame("login")

    def test_env_login_without_file_names_the_file(self, tmp_path: Path) -> None:
        """With only AURA_EMAIL/AURA_PASSWORD, a frame or --all points at the missing file."""
        path = tmp_path / "none.ini"
        settings = load_settings(path, {"AURA_EMAIL": "a@b", "AURA_PASSWORD": "pw"})
        with pytest.raises(ConfigError, match=rf"{path} not found: frame \[kitchen\] must be"):
            settings.frame("kitchen")
        assert f"{path} not found: --all" in str(settings.no_frames())
        assert settings.login_from == "AURA_EMAIL and AURA_PASSWORD"
