"""One place computes the app's directories; one conversion builds the client options."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from glacier_tui import transfers_cli
from glacier_tui.config import AppPaths, Settings, client_options_from


def test_paths_come_from_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    paths = Settings(download_dir=tmp_path / "dl").paths()
    assert isinstance(paths, AppPaths)
    assert paths.downloads == tmp_path / "dl"
    assert paths.store == paths.data / "store.sqlite3"
    assert paths.inventories == paths.state / "inventories"
    assert paths.uploads == paths.state / "uploads"
    assert paths.appliance_index == paths.state / "appliance-index"
    assert str(paths.state).startswith(str(tmp_path / "state"))
    custom = Settings(store_path=tmp_path / "s.db").paths()
    assert custom.store == tmp_path / "s.db"


def test_cli_and_tui_build_the_same_client_options() -> None:
    settings = Settings(region="eu-west-1", endpoint_url="http://127.0.0.1:9",
                        max_attempts=3, transfer_concurrency=8)
    assert transfers_cli._client_options(settings) == settings.client_options()
    # A settings-like object (the CLI's tests use one) gets the settings' defaults.
    loose = SimpleNamespace(region="eu-west-1", endpoint_url="http://127.0.0.1:9",
                            max_attempts=3, transfer_concurrency=8)
    assert client_options_from(loose) == settings.client_options()
