"""The project's warnings to the user point at the user's line (Python), or are the command's
own console line (``lightning-nas``): once, as the warnings filters say, on rank 0 alone."""

from __future__ import annotations

import warnings

import pytest

from lightning_nas.user_warnings import console_warnings, warn_user


def test_a_console_warning_is_said_as_python_would_once_and_as_its_filters_say(capsys):
    # was: every call printed, whatever the filters (-W ignore, PYTHONWARNINGS) said
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        with console_warnings("search"):
            warn_user("said once")
            warn_user("said once")
            warnings.filterwarnings("ignore", message="quiet")
            warn_user("quiet, please")
            warnings.filterwarnings("error", message="loud")
            with pytest.raises(UserWarning, match="loud"):
                warn_user("loud, as an error")
    assert capsys.readouterr().err == "lightning-nas search: warning: said once\n"


def test_a_console_warning_is_said_by_rank_0_alone(monkeypatch, capsys):
    # a launcher runs the command once per rank (Lightning's DDP, torchrun): one line, not
    # one per rank (was: each rank printed it)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        for rank, said in (("1", ""), ("0", "lightning-nas fit: warning: once\n")):
            monkeypatch.setenv("LOCAL_RANK", rank)
            with console_warnings("fit"):
                warn_user("once")
            assert capsys.readouterr().err == said, rank
