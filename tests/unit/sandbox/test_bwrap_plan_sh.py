"""Inside a bwrap sandbox ``/bin/sh`` is bash, as on Amazon Linux."""

from __future__ import annotations

from pathlib import Path

from lambdad.sandbox.bwrap_plan import sh_is_bash


def test_another_shell_is_shown_with_bashs_content(tmp_path: Path) -> None:
    (tmp_path / "dash").write_text("dash")
    (tmp_path / "bash").write_text("bash")
    (tmp_path / "sh").symlink_to("dash")
    args = sh_is_bash(str(tmp_path / "sh"), str(tmp_path / "bash"))
    assert args == ["--ro-bind", str(tmp_path / "bash"), str(tmp_path / "dash")]


def test_nothing_to_do_where_sh_is_bash_or_there_is_no_bash(tmp_path: Path) -> None:
    (tmp_path / "bash").write_text("bash")
    (tmp_path / "sh").symlink_to("bash")
    assert sh_is_bash(str(tmp_path / "sh"), str(tmp_path / "bash")) == []
    assert sh_is_bash(str(tmp_path / "sh"), str(tmp_path / "no-bash")) == []
