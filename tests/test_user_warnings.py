"""lightning_nas.user_warnings: how the package's own warnings meet the user's filters."""

from __future__ import annotations

import warnings

from lightning_nas.user_warnings import console_warnings, warn_user


def test_a_deprecation_under_pythons_own_filters_is_printed_on_the_console(capsys):
    # Python's built-in filter for DeprecationWarning in __main__ holds its module as plain
    # text, not a compiled pattern: reading it must not fail
    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.filterwarnings("default", category=DeprecationWarning)
        warnings.filters.insert(0, ("default", None, DeprecationWarning, "__main__", 0))
        with console_warnings("search"):
            warn_user("the old key is going", DeprecationWarning)
    assert "lightning-nas search: warning: the old key is going" in capsys.readouterr().err
