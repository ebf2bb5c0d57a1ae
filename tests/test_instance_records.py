"""A dataclass instance given from Python (``model_init_args={"net": NetConfig(hidden=2,
depth=5)}``) that no searched group reaches: the store keeps its class and fields, so

* ``best.yaml``'s ``model`` node says its fields where LightningCLI builds the same
  instance from them (was: left out, so LightningCLI, ``lightning-nas fit`` of the node and
  a fine-tune from it built the signature default, ``NetConfig(hidden=8, depth=3)``);
* an instance the node cannot say (an unannotated argument takes a dict; a subclass of the
  annotated dataclass, which LightningCLI builds as the annotated one) is left out, and
  ``best.yaml``'s ``notes`` say why;
* ``finetune`` (and ``lightning-nas finetune --from_scratch``) builds the instance again
  from the store (was: refused, asking for it);
* a resume compares it (another instance is refused, naming its field), and a store written
  before the record was kept resumes as before; a field a group of the space sets (a
  searched ``net.hidden``, ``data.aug.hidden``) is every trial's group value, so an instance
  that differs only there resumes (was: refused, though its trials train the same);
* a warm start reads a key the earlier space lacked from its fields (was: a fill value,
  which the earlier trials never ran with);
* a group over an instance (``net: {hidden: ...}`` over ``NetConfig(depth=2)``) is set over
  its fields: the trial, ``best.yaml``'s node and a fine-tune keep ``depth=2``, as
  LightningCLI merges ``--model.net='{hidden: 4}'`` over a config's ``net`` (was: refused
  before training, "it would be lost").

One real one-trial search checks the trial, ``best.yaml``, LightningCLI's build of its node
(``run=False``) and a fine-tune from fresh weights; the resume checks read the store as a
search does, nothing trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
import yaml

from lightning_nas import Choice, Search, finetune
from lightning_nas.cli import main
from lightning_nas.config.factories import ModelFactory
from lightning_nas.errors import ConfigError
from lightning_nas.export_config import model_section, objects_beside
from lightning_nas.results import TrialResult, TrialStatus
from lightning_nas.search.resume import restore_init, stored_init
from lightning_nas.search.summary import given_again
from lightning_nas.search.warm import load_priors
from lightning_nas.space import SearchSpace
from lightning_nas.store import RunStore, open_search_store
from tests.helpers_data import BlobData
from tests.helpers_models import ClassifierSteps
from tests.helpers_records import DEEP, NetConfig, cli_model, deep_layers

torch.set_num_threads(1)

HERE = __name__
TRAINER = {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "logger": False,
           "enable_progress_bar": False}


@dataclass
class Wider(NetConfig):
    """A subclass of the annotated dataclass (LightningCLI builds a NetConfig there)."""

    hidden: int = 32


class DeepNet(ClassifierSteps, pl.LightningModule):
    """``net``'s signature default is ``NetConfig(depth=3)``; ``loose`` has no annotation;
    ``nets`` a dict of dataclasses."""

    built: list[dict[str, Any]] = []  # the arguments of each model built

    def __init__(self, net: NetConfig = DEEP, loose=None, lr: float = 0.05,
                 nets: dict[str, NetConfig] | None = None) -> None:
        super().__init__()
        DeepNet.built.append({"net": net, "loose": loose} | ({"nets": nets} if nets else {}))
        self.layers, self.lr = deep_layers(net), lr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


class AugData(BlobData):
    """A data class with a dataclass argument (``data.aug`` groups reach it)."""

    built: list[NetConfig] = []  # the ``aug`` of each data built

    def __init__(self, aug: NetConfig = DEEP, n: int = 256) -> None:
        super().__init__(n=n)
        AugData.built.append(aug)


def _search(run, **init: Any) -> Search:
    return Search(DeepNet, {"lr": Choice([0.05, 0.1])}, data=BlobData, model_init_args=init,
                  trainer=TRAINER, budget=1, run_dir=run, seed=0, verbose=False)


def test_the_node_says_an_instances_fields_where_lightningcli_builds_it_from_them():
    stored = stored_init(f"{HERE}.DeepNet", {"net": NetConfig(hidden=2, depth=5),
                                              "loose": NetConfig(depth=2)})
    node = model_section(stored, {"lr": 0.1})
    assert node["init_args"] == {"net": {"hidden": 2, "depth": 5}, "lr": 0.1}
    wider = model_section(stored_init(f"{HERE}.DeepNet", {"net": Wider()}), {})
    assert "net" not in wider["init_args"]  # LightningCLI would build NetConfig(hidden=32)
    stored = stored_init(f"{HERE}.DeepNet", {"nets": {"a": Wider(), "b": NetConfig()}})
    node = model_section(stored, {})  # a dict of them: so too, each instance
    assert "nets" not in node["init_args"]
    assert objects_beside(stored, node)["notes"] == [
        "model_objects nets: a dict of NetConfig and Wider instances, which the model node "
        "cannot say: LightningCLI builds a dict of NetConfig (the argument is annotated with "
        "dict[str, NetConfig] or null) from a mapping of its fields there; finetune builds it "
        "again from the store (NetConfig and Wider from {'a': {'hidden': 32, 'depth': 1}, "
        "'b': {'hidden': 8, 'depth': 1}})"]


def test_a_group_over_a_dict_of_instances_keeps_their_fields_as_lightningcli(tmp_path):
    given = {"nets": {"a": NetConfig(depth=2)}}
    arch = {"nets": {"a": {"hidden": 4}}}  # nothing trained: the trial's build, the node
    ModelFactory(DeepNet, given).build(arch)
    assert DeepNet.built[-1]["nets"] == {"a": NetConfig(hidden=4, depth=2)}  # (was: depth=1)
    node = model_section(stored_init(f"{HERE}.DeepNet", given), arch)
    assert node["init_args"]["nets"] == {"a": {"hidden": 4, "depth": 2}}
    cli_model(tmp_path, node)  # as LightningCLI merges --model.nets='{a: {hidden: 4}}'
    assert DeepNet.built[-1]["nets"] == {"a": NetConfig(hidden=4, depth=2)}


def test_a_group_over_a_dict_mixing_instances_and_mappings_is_merged_key_by_key(tmp_path):
    given = {"nets": {"a": NetConfig(hidden=4, depth=2), "b": {"hidden": 6, "depth": 3}}}
    space = {"nets": {"a": {"hidden": Choice([5])}, "b": {"hidden": Choice([7, 9])}}}
    Search(DeepNet, space, data=BlobData, model_init_args=given, trainer=TRAINER, budget=1,
           run_dir=tmp_path / "run", verbose=False)  # (was: refused, "has the keys a.depth,
    arch = {"nets": {"a": {"hidden": 5}, "b": {"hidden": 7}}}  # b.depth, ... would be lost")
    ModelFactory(DeepNet, given).build(arch)  # nothing trained: the trial's build, the node
    trained = {"a": NetConfig(hidden=5, depth=2), "b": NetConfig(hidden=7, depth=3)}
    assert DeepNet.built[-1]["nets"] == trained  # as a dict of instances' each
    node = model_section(stored_init(f"{HERE}.DeepNet", given), arch)
    assert node["init_args"]["nets"] == {"a": {"hidden": 5, "depth": 2},
                                         "b": {"hidden": 7, "depth": 3}}
    cli_model(tmp_path, {"class_path": f"{HERE}.DeepNet", "init_args": {"nets": {
        "a": {"hidden": 4, "depth": 2}, "b": {"hidden": 6, "depth": 3}}}},
              "--model.nets={a: {hidden: 5}, b: {hidden: 7}}")  # LightningCLI merges so too
    assert DeepNet.built[-1]["nets"] == trained
    with pytest.raises(ConfigError, match=r"init_args\['nets'\] has the key a, which the "
                       r"search space's group 'nets' does not set"):  # a key the group leaves
        Search(DeepNet, {"nets": {"b": {"hidden": Choice([7, 9])}}}, data=BlobData,  # out:
               model_init_args=given, trainer=TRAINER, budget=1,  # dropped, as LightningCLI's
               run_dir=tmp_path / "run", verbose=False)  # --model.nets='{b: {...}}' drops it


def test_a_dict_mixing_instances_and_mappings_is_kept_as_given_and_said_in_the_node(tmp_path):
    given = {"nets": {"a": NetConfig(hidden=4), "b": {"hidden": 6}}}  # nothing trained
    ModelFactory(DeepNet, given).build({"lr": 0.1})
    trained = DeepNet.built[-1]["nets"]  # each a NetConfig, as the annotation builds it
    assert trained == {"a": NetConfig(hidden=4), "b": NetConfig(hidden=6)}
    stored = stored_init(f"{HERE}.DeepNet", given)  # (was: kept no record: finetune asked
    assert restore_init(stored, None, "model") == given  # for nets again)
    node = model_section(stored, {"lr": 0.1})
    assert node["init_args"]["nets"] == {"a": {"hidden": 4, "depth": 1}, "b": {"hidden": 6}}
    assert "model_objects" not in objects_beside(stored, node)
    cli_model(tmp_path, node)  # LightningCLI's own build of the node: the trial's nets
    assert DeepNet.built[-1]["nets"] == trained
    loose = stored_init(f"{HERE}.DeepNet", {"loose": {"a": NetConfig(depth=2), "n": 3}})
    assert restore_init(loose, None, "model") == {"loose": {"a": NetConfig(depth=2), "n": 3}}
    assert objects_beside(loose, model_section(loose, {}))["notes"] == [  # a dict there
        "model_objects loose: a dict of NetConfig instances, which the model node cannot "
        "say: LightningCLI builds a dict (the argument has no annotation) from a mapping of "
        "its fields there; finetune builds it again from the store (NetConfig from {'a': "
        "{'hidden': 8, 'depth': 2}, 'n': 3})"]


def test_a_group_over_an_instance_whose_class_no_longer_imports_is_refused_on_export():
    stored = stored_init(f"{HERE}.DeepNet", {"net": NetConfig(hidden=2, depth=5)})
    stored["dataclasses"]["net"]["class_path"] = f"{HERE}.OldNetConfig"  # renamed since
    # (was: exported {'hidden': 4, 'depth': 1}, NetConfig's own depth, no trial's)
    with pytest.raises(ConfigError, match=(
            r"model_init_args\['net'\]: the store keeps a .*OldNetConfig instance there, "
            r"with the fields \{'hidden': 2, 'depth': 5\}, but module .* has no attribute "
            r"'OldNetConfig'.*To fix it, make .*OldNetConfig importable again")):
        model_section(stored, {"net": {"hidden": 4}})


def test_a_group_over_one_instance_keeps_its_fields_as_lightningcli(tmp_path):
    given = {"net": NetConfig(depth=2)}
    Search(DeepNet, {"net": {"hidden": Choice([4, 8])}}, data=BlobData, model_init_args=given,
           trainer=TRAINER, budget=1, run_dir=tmp_path / "run", verbose=False)  # (was:
    # refused, "model init_args['net'] has the key depth, ... so it would be lost")
    arch = {"net": {"hidden": 4}}  # nothing trained: the trial's build, the node
    ModelFactory(DeepNet, given).build(arch)
    assert DeepNet.built[-1]["net"] == NetConfig(hidden=4, depth=2)
    node = model_section(stored_init(f"{HERE}.DeepNet", given), arch)
    assert node["init_args"]["net"] == {"hidden": 4, "depth": 2}
    cli_model(tmp_path, {"class_path": f"{HERE}.DeepNet", "init_args": {"net": {"depth": 2}}},
              "--model.net={hidden: 4}")  # LightningCLI, its config's net merged so too
    assert DeepNet.built[-1]["net"] == NetConfig(hidden=4, depth=2)


def test_an_instance_no_group_reaches_is_exported_and_built_again_by_finetune(tmp_path):
    DeepNet.built.clear()
    run = tmp_path / "run"
    nets = {"a": NetConfig(depth=2), "b": NetConfig(hidden=3)}  # a dict of them too
    with pytest.warns(UserWarning, match=r"best\.yaml: model_objects loose: a NetConfig"):
        _search(run, net=NetConfig(hidden=2, depth=5), loose=NetConfig(depth=2),
                nets=nets).run()
    trained = {"net": NetConfig(hidden=2, depth=5), "loose": NetConfig(depth=2), "nets": nets}
    with RunStore(run / "search.db") as store:  # what the summary asks for again: neither
        assert given_again(store) == []  # (was: ["model_init_args={'loose': ..., 'net': ...}"])
    assert DeepNet.built[-1] == trained
    best = yaml.safe_load((run / "best.yaml").read_text())
    assert best["model"]["init_args"]["net"] == {"hidden": 2, "depth": 5}
    assert best["model"]["init_args"]["nets"] == {"a": {"hidden": 8, "depth": 2},
                                                  "b": {"hidden": 3, "depth": 1}}
    assert "loose" not in best["model"]["init_args"] and best["model_objects"] == {
        "loose": None}  # an unannotated argument: LightningCLI would pass a dict
    note = next(n for n in best["notes"] if "loose" in n)
    assert "a NetConfig instance" in note and "a dict" in note
    cli_model(tmp_path, best["model"])  # LightningCLI's own build of the node
    assert DeepNet.built[-1]["net"] == trained["net"]  # (was: NetConfig(hidden=8, depth=3))
    assert DeepNet.built[-1]["nets"] == nets  # (was: left out, so None)
    DeepNet.built.clear()
    result = finetune(run, max_epochs=1, from_checkpoint=False)  # (was: refused, asking
    assert result.error is None and DeepNet.built[-1] == trained  # for net and loose again)
    DeepNet.built.clear()  # the command too, which cannot give them as objects
    assert main(["finetune", str(run), "--from_scratch", "--max_epochs", "1"]) == 0
    assert DeepNet.built[-1] == trained


def test_a_resume_compares_the_instance_and_a_store_written_before_resumes(tmp_path):
    run = tmp_path / "run"
    _search(run, net=NetConfig(hidden=2, depth=5)).run()
    _search(run, net=NetConfig(hidden=2, depth=5)).check_run_dir()  # the same: resumes
    with pytest.raises(ConfigError, match=r"model\.dataclasses\.net\.init_args\.hidden: 2, "
                                          r"now 4"):  # (was: resumed, another network)
        _search(run, net=NetConfig(hidden=4, depth=5)).check_run_dir()
    with RunStore(run / "search.db") as store:  # as a version before the record wrote it
        model = store.get_meta("model")
        del model["dataclasses"]
        store.set_meta("model", model)
    _search(run, net=NetConfig(hidden=4, depth=5)).check_run_dir()  # not compared, as before
    resumed = Search(DeepNet, {"lr": Choice([0.05, 0.1])}, data=BlobData,
                     model_init_args={"net": NetConfig(hidden=2, depth=5)}, trainer=TRAINER,
                     budget=2, run_dir=run, seed=0, verbose=False).run()
    assert len(resumed.trials) == 2
    with RunStore(run / "search.db") as store:  # the record kept from now on
        assert store.get_meta("model")["dataclasses"]["net"]["init_args"] == {
            "hidden": 2, "depth": 5}


def test_a_resume_whose_instances_differ_only_in_searched_fields_trains_on(tmp_path):
    run = tmp_path / "run"
    space = {"net": {"hidden": Choice([4, 6])}, "data.aug": {"hidden": Choice([5, 7])}}

    def search(net: NetConfig, aug: NetConfig, budget: int) -> Search:
        return Search(DeepNet, space, data=AugData, model_init_args={"net": net},
                      data_init_args={"aug": aug}, trainer=TRAINER, budget=budget,
                      run_dir=run, seed=0, verbose=False)

    # depth=2, which no group sets, kept in each trial (was: refused before training)
    assert len(search(NetConfig(hidden=2, depth=2), NetConfig(hidden=3, depth=2), 1).run(
    ).trials) == 1
    DeepNet.built.clear()
    AugData.built.clear()
    # each instance differs in a field its group sets, alone: every trial gets the group's
    resumed = search(NetConfig(9, 2), NetConfig(1, 2), 2).run()  # (was: refused,
    assert len(resumed.trials) == 2  # "model.dataclasses.net.init_args.hidden: 2, now 9")
    assert {net["net"].hidden for net in DeepNet.built} <= {4, 6}
    assert {net["net"].depth for net in DeepNet.built} == {2}  # the instance's, not DEEP's
    assert {aug.hidden for aug in AugData.built} <= {5, 7} and AugData.built
    assert {aug.depth for aug in AugData.built} == {2}
    for part, key in (("model", "net"), ("data", "aug")):  # a field no group sets, which
        with RunStore(run / "search.db") as store:  # differs (as where the class's default
            setup = store.get_meta(part)  # changed since): refused, naming it
            setup["dataclasses"][key]["init_args"]["depth"] = 4
            store.set_meta(part, setup)
        with pytest.raises(ConfigError) as err:
            search(NetConfig(9, 2), NetConfig(1, 2), 3).check_run_dir()
        message = str(err.value)
        assert f"{part}.dataclasses.{key}.init_args.depth: 4, now 2" in message, message
        assert "init_args.hidden" not in message, message
        with RunStore(run / "search.db") as store:
            setup["dataclasses"][key]["init_args"]["depth"] = 2
            store.set_meta(part, setup)
    best = yaml.safe_load((run / "best.yaml").read_text())  # the node and a fine-tune from
    hidden = best["arch"]["net"]["hidden"]  # best.ckpt: the group over the instance's fields
    assert best["model"]["init_args"]["net"] == {"hidden": hidden, "depth": 2}
    DeepNet.built.clear()
    assert finetune(run, max_epochs=1).error is None  # its weights fit two hidden layers
    assert DeepNet.built[-1]["net"] == NetConfig(hidden=hidden, depth=2)


def test_a_warm_start_reads_a_group_key_from_the_instance_its_source_ran_with(tmp_path):
    store = open_search_store(tmp_path / "old", {"space": {"lr": {"choice": [0.05, 0.1]}},
                                                 "monitor": "val_acc", "mode": "max"})
    store.set_meta("model", stored_init(f"{HERE}.DeepNet", {"net": NetConfig(hidden=2,
                                                                           depth=5)}))
    for lr, acc in ((0.05, 0.9), (0.1, 0.8)):  # as the search stores them
        store.finish_trial(TrialResult(store.start_trial({"lr": lr}), {"lr": lr},
                                       TrialStatus.COMPLETED, score=acc))
    store.close()
    space = SearchSpace.from_dict({"lr": {"choice": [0.05, 0.1]},
                                   "net": {"hidden": {"choice": [4, 2]}}})
    priors, report = load_priors([tmp_path / "old"], space)
    # the instance's hidden=2 (was: 4, the choice's first value: a network never trained)
    assert [p.arch["net"] for p in priors] == [{"hidden": 2}, {"hidden": 2}]
    assert report.sources[0].recorded == {"net.hidden": 2}


def test_a_stored_instance_its_class_no_longer_builds_is_asked_for_again(tmp_path):
    run = tmp_path / "run"
    _search(run, net=NetConfig(hidden=2, depth=5)).run()
    with RunStore(run / "search.db") as store:  # NetConfig lost a field since the search
        model = store.get_meta("model")
        model["dataclasses"]["net"]["init_args"]["width"] = 3
        store.set_meta("model", model)
    folders = sorted(run.iterdir())
    with pytest.raises(ConfigError, match=r"model_init_args\['net'\]: the stored fields .* no "
                                          r"longer build .*NetConfig.*; pass it again: "
                                          r"model_init_args=\{'net': \.\.\.\} \(lightning-nas "
                                          r"finetune: --model\.net='\{hidden: \.\.\., "):
        finetune(run, max_epochs=1, from_checkpoint=False)
    assert sorted(run.iterdir()) == folders  # nothing made
    DeepNet.built.clear()
    result = finetune(run, max_epochs=1, from_checkpoint=False,
                      model_init_args={"net": NetConfig(hidden=2, depth=5)})
    assert result.error is None and DeepNet.built[-1]["net"] == NetConfig(hidden=2, depth=5)


def test_an_instance_the_store_cannot_keep_is_asked_for_as_the_command_line_can_give_it(
        tmp_path):
    @dataclass
    class Local(NetConfig):  # defined in a function: no import path, so the store keeps
        """A subclass the store cannot keep (nor LightningCLI import)."""  # no record of it

    run = tmp_path / "run"
    _search(run, net=Local(hidden=2, depth=5)).run()
    with pytest.raises(ConfigError) as err:
        finetune(run, max_epochs=1, from_checkpoint=False)
    message = str(err.value)
    assert "pass them again: model_init_args={'net': ...}" in message
    # was: --model.net='{class_path: ..., init_args: {...}}', which nothing imports for a
    # class of a function or of __main__, and which a dataclass argument does not take
    assert "class_path" not in message, message
    assert ("lightning-nas finetune: --model.net='{hidden: ..., depth: ...}', a mapping of the "
            "fields of NetConfig, which the command line builds there; it cannot give an "
            "instance of a class it cannot import, one defined in __main__ or in a function"
            ) in message, message
    DeepNet.built.clear()  # what the hint says works
    assert main(["finetune", str(run), "--from_scratch", "--max_epochs", "1",
                 "--model.net={hidden: 2, depth: 5}"]) == 0
    assert DeepNet.built[-1]["net"] == NetConfig(hidden=2, depth=5)
