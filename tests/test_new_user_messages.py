"""Messages a new user meets in the first hour: each says what to do next.

Covers a class path whose module is not found from the current folder (a command run
from another folder).
"""

from __future__ import annotations

import os

import pytest

from lightning_nas.config.instantiate import import_object
from lightning_nas.errors import ConfigError


def test_a_module_not_found_says_where_class_paths_are_imported_from():
    # was: "cannot import module 'no_such_pkg_xyz' of 'no_such_pkg_xyz.Net': No module named
    # 'no_such_pkg_xyz'", and nothing on why a config that trains in its own folder fails
    # from another one
    with pytest.raises(ConfigError) as info:
        import_object("no_such_pkg_xyz.Net")
    message = str(info.value)
    assert message.startswith("cannot import module 'no_such_pkg_xyz' of 'no_such_pkg_xyz.Net'")
    assert f"the current folder ({os.getcwd()})" in message
    assert "PYTHONPATH" in message and "no_such_pkg_xyz.py" in message


def test_a_dependency_missing_inside_a_found_module_gets_no_folder_hint(tmp_path, monkeypatch):
    (tmp_path / "lnas_needs_dep.py").write_text("import lnas_missing_dep_xyz\nclass Net: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as info:  # the module is found: its own import fails
        import_object("lnas_needs_dep.Net")
    message = str(info.value)
    assert "No module named 'lnas_missing_dep_xyz'" in message
    assert "current folder" not in message and "PYTHONPATH" not in message
