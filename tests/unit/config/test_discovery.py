"""Which config file a command reads (--config, SCAISEND_CONFIG, the system file, the
embedded default) and what the relative paths written in a file are relative to."""

from __future__ import annotations

from pathlib import Path

from config.discovery import (
    CONFIG_ENV,
    SYSTEM_CONFIG,
    SYSTEM_CONFIG_ENV,
    find_config,
    resolve_relative_paths,
)
from config.loader import load_settings
from config.settings import Settings


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    paths = tmp_path / "given.toml", tmp_path / "env.toml", tmp_path / "system.toml"
    for path in paths:
        path.write_text("")
    return paths


def test_the_order_is_flag_variable_system_file_default(tmp_path: Path) -> None:
    given, named, system = _files(tmp_path)
    environ = {CONFIG_ENV: str(named), SYSTEM_CONFIG_ENV: str(system)}
    assert find_config(str(given), environ).path == str(given)
    assert find_config(str(given), environ).origin == "--config"
    assert (find_config(None, environ).path, find_config(None, environ).origin) == (
        str(named),
        "SCAISEND_CONFIG",
    )
    only_system = {SYSTEM_CONFIG_ENV: str(system)}
    assert (find_config(None, only_system).path, find_config(None, only_system).origin) == (
        str(system),
        "system",
    )
    system.unlink()
    default = find_config(None, only_system)
    assert (default.path, default.origin) == (None, "default")
    assert f"no {system}" in default.describe() and CONFIG_ENV in default.describe()


def test_the_system_file_is_etc_scaisend_unless_told_otherwise() -> None:
    assert SYSTEM_CONFIG == "/etc/scaisend/scaisend.toml"
    assert find_config(None, {}).system_path == SYSTEM_CONFIG


def test_a_named_file_need_not_exist_to_be_chosen_and_is_made_absolute(tmp_path: Path) -> None:
    """A missing file given by --config or the variable is chosen (and refused by the
    loader, naming it), never passed over for the next in the order."""
    environ = {CONFIG_ENV: "missing.toml", SYSTEM_CONFIG_ENV: str(tmp_path / "none")}
    chosen = find_config(None, environ)
    assert chosen.path is not None and Path(chosen.path).is_absolute()
    assert chosen.path.endswith("/missing.toml") and chosen.describe().startswith(CONFIG_ENV)


def test_relative_paths_in_a_file_are_relative_to_its_directory(tmp_path: Path) -> None:
    data = {
        "storage": {"data_dir": "var"},
        "smtp": {"tls_cert": "tls/cert.pem", "tls_key": "/abs/key.pem"},
        "delivery": {"tls_ca_file": ""},
    }
    resolved = resolve_relative_paths(data, tmp_path)
    assert resolved["storage"]["data_dir"] == str(tmp_path / "var")
    assert resolved["smtp"] == {
        "tls_cert": str(tmp_path / "tls/cert.pem"),
        "tls_key": "/abs/key.pem",
    }
    assert resolved["delivery"] == {"tls_ca_file": ""}  # empty: not set
    assert data["storage"]["data_dir"] == "var"  # the input is left as it was


def test_a_file_without_data_dir_keeps_its_data_beside_it(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "scaisend.toml"
    config.parent.mkdir()
    config.write_text('[smtp]\nhostname = "mx.example.net"\n')
    assert load_settings(config, environ={}).storage.data_dir == str(tmp_path / "etc" / "var")
    config.write_text('[storage]\ndata_dir = "../data"\n')
    assert load_settings(config, environ={}).storage.data_dir == str(tmp_path / "data")


def test_the_environment_and_the_default_stay_relative_to_the_current_directory(
    tmp_path: Path,
) -> None:
    config = tmp_path / "scaisend.toml"
    config.write_text('[storage]\ndata_dir = "var"\n')
    from_env = load_settings(config, environ={"SCAISEND__STORAGE__DATA_DIR": "elsewhere"})
    assert from_env.storage.data_dir == "elsewhere"
    assert load_settings(None, environ={}).storage.data_dir == Settings().storage.data_dir
