"""``config.calls``: a node's target called with errors that say what to change."""

from __future__ import annotations

import functools

import pytest

from lightning_nas.config.calls import accepted_kwargs, call
from lightning_nas.errors import ConfigError
from tests.helpers_callbacks import CrashAt


class Quiet:
    """A class whose ``__init__`` a decorator wraps with a keyword of its own (``verbose``),
    as deprecation shims and option-adding decorators do."""

    def __init__(self, a: int, b: int = 2) -> None:
        self.a, self.b = a, b


def _with_verbose(init):
    @functools.wraps(init)
    def wrapper(self, *args, verbose: bool = False, **kwargs):
        self.verbose = verbose
        init(self, *args, **kwargs)

    return wrapper


Quiet.__init__ = _with_verbose(Quiet.__init__)


def test_a_keyword_only_the_wrapper_takes_is_taken():
    # was: "verbose: not an argument of Quiet; it takes ['a', 'b']" (the signature followed
    # __wrapped__ to the original, without the wrapper's keyword)
    built = call(Quiet, [], {"a": 1, "verbose": True}, "trainer.callbacks[0]")
    assert (built.a, built.verbose) == (1, True)
    with pytest.raises(ConfigError, match=r"^trainer.callbacks\[0\].aa: not an argument of "
                                          r"CrashAt; it takes \['epoch', 'batch', 'rank'\]"):
        call(CrashAt, [], {"aa": 1}, "trainer.callbacks[0]")
    assert accepted_kwargs(CrashAt) == (["epoch", "batch", "rank"], False)


@pytest.mark.parametrize(("path", "hydra", "said", "not_said"), [
    # a section: where to set it, and that a LightningCLI link is not applied
    # and its command-line override
    ("model", False, ["set model.init_args.epoch (on the command line: "
                      "--model.init_args.epoch=...; the link_arguments"], ["_partial_"]),
    ("model", True, ["set model.epoch"], ["_partial_", "link_arguments", "command line"]),
    # a nested node: where to set it, or `_partial_` (was: set ...init_args.params alone,
    # which a config cannot, for an optimizer's parameters)
    ("model.optimizer", False, ["set model.optimizer.init_args.epoch; or, if it is to be "
                                "called later", "add `_partial_: true`"], ["link_arguments"]),
    ("model.optimizer", True, ["set model.optimizer.epoch; or, if it is to be called "
                               "later", "add `_partial_: true`"], ["link_arguments"]),
    # a Trainer's node (a Hydra job config's callbacks group too): the Trainer takes an
    # instance, never a partial (was: "; or, if it is to be called later ..., add
    # `_partial_: true` to its node")
    ("trainer.callbacks[0]", False, ["set trainer.callbacks[0].init_args.epoch"],
     ["link_arguments", "_partial_", "; or, "]),
    ("trainer.logger.csv", False, ["set trainer.logger.csv.init_args.epoch"],
     ["_partial_", "; or, "]),
    ("callbacks.early_stopping", True, ["set callbacks.early_stopping.epoch"],
     ["_partial_", "; or, "]),
    # a node given alone (search.constraints): no leading dot (was: "set .init_args.epoch")
    ("", False, ["node: CrashAt: the config does not give required argument 'epoch'; set "
                 "init_args.epoch"], ["link_arguments", "_partial_", " .init_args"]),
])
def test_a_required_argument_left_out_is_named_with_where_to_set_it(path, hydra, said,
                                                                    not_said):
    with pytest.raises(ConfigError) as info:
        call(CrashAt, [], {}, path, hydra)
    for text in said:
        assert text in str(info.value)
    for text in not_said:
        assert text not in str(info.value)
