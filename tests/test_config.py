"""The one configuration: validation, env overrides, CLI errors naming the key."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ogcsdl.config import load_settings
from ogcsdl.errors import ConfigError
from tests.cli_support import run_cli


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ogcsdl.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_embedded(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, "data_dir: var\n"))
    assert settings.data_dir == tmp_path / "var"  # relative to the file, not the cwd
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'ogcsdl.db'}"
    assert settings.public_url == "http://127.0.0.1:5000"
    assert settings.url("/csw") == "http://127.0.0.1:5000/csw"


def test_env_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OGCSDL_SERVER__PORT", "6123")
    monkeypatch.setenv("OGCSDL_DATABASE__URL", "postgresql://u@db:5432/x")
    settings = load_settings(_write(tmp_path, "server:\n  port: 5001\n"))
    assert settings.server.port == 6123
    assert settings.public_url == "http://127.0.0.1:6123"
    assert settings.database_url == "postgresql://u@db:5432/x"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("server:\n  port: 99999\n", "server.port"),
        ("public_url: ftp://x\n", "public_url"),
        ("database:\n  url: mysql://x\n", "database.url"),
        ("cluster:\n  workerz: 3\n", "cluster.workerz"),
        ("- a list\n", "top level"),
        ("server: [\n", "not valid YAML"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(_write(tmp_path, text))
    assert key in str(raised.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(tmp_path / "absent.yml")


def test_cli_validate(tmp_path: Path) -> None:
    good = _write(tmp_path, "data_dir: var\n")
    run = [sys.executable, "-m", "ogcsdl", "--config"]
    ok = subprocess.run([*run, str(good), "config", "validate"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "valid" in ok.stdout and "SQLite" in ok.stdout

    bad = tmp_path / "bad.yml"
    bad.write_text("server:\n  port: -1\n", encoding="utf-8")
    failed = subprocess.run([*run, str(bad), "config", "validate"], capture_output=True, text=True)
    assert failed.returncode == 2
    assert "server.port" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1


def test_cli_lists_every_subcommand_and_imports_only_the_one_it_runs() -> None:
    listed = run_cli("--help")
    assert listed.returncode == 0, listed.stderr
    for name in ("config", "conformance", "demo", "harvest", "ingest", "keys", "seed", "serve"):
        assert re.search(rf"^  {name} ", listed.stdout, re.M), listed.stdout
    # `config validate` in a fresh interpreter imports none of the serving stack.
    probe = (
        "import sys; from ogcsdl.cli import main; sys.argv = ['ogcsdl', 'config', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('ogcsdl.server.supervisor', 'dask.array', 'mapproxy',"
        " 'ogcsdl.ingest.commands') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
