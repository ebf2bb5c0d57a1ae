"""FLOPs counted before training (``search/costs.py``): the matmuls of the layers whose
kernels ``FlopCounterMode`` does not see (attention's fused inference path, the CPU LSTM and
attention kernels), equal to the layers' formulas and to a training forward's count."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from lightning_nas import Search
from lightning_nas.errors import ConfigError
from lightning_nas.results import TrialStatus
from lightning_nas.search.costs import CountError, model_costs
from tests.helpers_data import BlobData
from tests.helpers_models import SeqNet, TinyNet

B, T = 3, 5  # the example input's batch and sequence length


class Wrapped(nn.Module):
    """``layer`` called on ``example_input_array`` (its own input, or three times for
    attention), as the count calls a model."""

    def __init__(self, layer: nn.Module, dim: int = 16, attention: bool = False) -> None:
        super().__init__()
        self.layer, self.attention = layer, attention
        self.example_input_array = torch.zeros(B, T, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layer(x, x, x) if self.attention else self.layer(x)
        return out[0] if isinstance(out, tuple) else out


class Attention(nn.Module):
    """``scaled_dot_product_attention`` of ``heads`` heads of 4 (CPU: a kernel of its own)."""

    def __init__(self, heads: int) -> None:
        super().__init__()
        self.example_input_array = torch.zeros(B, heads, T, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(x, x, x, is_causal=True)


def _flops(model: nn.Module) -> float:
    return model_costs(lambda arch: model, {}, flops=True)["flops"]


def _attention(d: int, heads: int) -> int:
    """Multi-head self-attention over T steps: in and out projections, q @ k^T, w @ v."""
    return 2 * B * T * (3 * d * d + d * d) + 2 * 2 * B * heads * T * T * (d // heads)


def test_lstm_flops_are_its_gate_matmuls():
    # was: 0 (the CPU LSTM kernel, mkldnn_rnn_layer, is not counted by FlopCounterMode)
    lstm = nn.LSTM(16, 8, num_layers=2, bidirectional=True, batch_first=True)
    per_step = 2 * (4 * 8 * 16 + 4 * 8 * 8) + 2 * (4 * 8 * 16 + 4 * 8 * 8)  # 2 directions
    assert _flops(Wrapped(lstm)) == 2 * B * T * per_step  # layer 2's input: 2 x 8 = 16
    gru = nn.GRU(16, 8, batch_first=True)  # counted as FlopCounterMode counts its cells
    assert _flops(Wrapped(gru)) == 2 * B * T * (3 * 8 * 16 + 3 * 8 * 8)


def test_attention_flops_are_its_matmuls_as_in_training():
    # was: 0 for attention layers (their fused eval-mode path) and for CPU attention
    layer = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True)
    expected = _attention(16, 4) + 2 * B * T * (16 * 32 + 32 * 16)
    assert _flops(Wrapped(layer)) == expected
    with FlopCounterMode(display=False) as counter:  # what a training step's forward does
        layer.train()(torch.zeros(B, T, 16))
    assert counter.get_total_flops() == expected
    mha = nn.MultiheadAttention(16, 4, batch_first=True)
    assert _flops(Wrapped(mha, attention=True)) == _attention(16, 4)
    assert _flops(Attention(heads=2)) == 2 * 2 * B * 2 * T * T * 4  # a causal mask: whole


def test_a_deeper_transformer_counts_its_layers():
    # was: 1408 flops for both 1 and 4 layers (only the input and output layers counted)
    one, four = (_flops(SeqNet(d_model=16, layers=n)) for n in (1, 4))
    ends = 2 * 4 * 8 * 16 + 2 * 4 * 16 * 3  # SeqNet's input and output layers
    assert four - ends == 4 * (one - ends)
    assert four == pytest.approx(4 * one, rel=0.01)


def test_the_count_leaves_the_models_modes_and_the_fast_path_as_they_were():
    model = Wrapped(nn.TransformerEncoderLayer(16, 4, 32, batch_first=True)).train()
    model.layer.dropout.eval()  # one submodule's mode of its own
    before = [m.training for m in model.modules()]
    _flops(model)  # a builder that returns the user's module
    assert [m.training for m in model.modules()] == before
    assert torch.backends.mha.get_fastpath_enabled()


def test_max_flops_rejects_the_deeper_transformer(tmp_path):
    # was: every depth passed max_flops (1 and 4 layers both counted 1408)
    limit = (_flops(SeqNet(d_model=16, layers=1)) + _flops(SeqNet(d_model=16, layers=4))) / 2
    result = Search(SeqNet, {"layers": {"choice": [1, 4]}}, data=BlobData,
                    trainer={"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                             "limit_train_batches": 1, "limit_val_batches": 1},
                    budget=2, optimizer="RandomSearch", seed=0, max_flops=limit, verbose=False,
                    run_dir=tmp_path / "run").run()
    status = {t.arch["layers"]: t.status for t in result.trials}
    assert status == {1: TrialStatus.COMPLETED, 4: TrialStatus.REJECTED}


class PickyNet(TinyNet):
    """``TinyNet`` whose ``__init__`` refuses width 4 (as attention refuses a ``d_model``
    its heads do not divide)."""

    def __init__(self, width: int = 16, **kwargs) -> None:
        if width == 4:
            raise ValueError("width 4 is refused")
        super().__init__(width=width, **kwargs)


def test_an_architecture_the_model_refuses_is_a_failed_trial_when_costs_are_counted(tmp_path):
    # was: the model's ValueError escaped from counting max_params: the search crashed,
    # nothing exported, and a resume crashed again
    def search():
        return Search(PickyNet, {"width": {"choice": [4, 8, 16]}}, data=BlobData,
                      trainer={"max_epochs": 1, "accelerator": "cpu", "devices": 1,
                               "limit_train_batches": 1, "limit_val_batches": 1},
                      budget=5, optimizer="RandomSearch", seed=0, max_params=1e6,
                      verbose=False, run_dir=tmp_path / "run").run()

    result = search()
    status = {t.arch["width"]: t.status for t in result.trials}
    assert status == {4: TrialStatus.FAILED, 8: TrialStatus.COMPLETED,
                      16: TrialStatus.COMPLETED}
    failed = next(t for t in result.trials if t.arch["width"] == 4)
    assert failed.error.startswith("ValueError: width 4 is refused")
    assert result.best.arch["width"] in (8, 16) and (tmp_path / "run" / "best.yaml").is_file()
    again = search()  # a resume: the same trials, nothing trained again
    assert {t.arch["width"]: t.status for t in again.trials} == status
    # the check before the search counts the first architecture the model builds for (seed 1
    # samples width 4 first; was: its ValueError escaped before anything was written)
    result = Search(PickyNet, {"width": {"choice": [4, 8, 16]}}, data=BlobData,
                    trainer={"max_epochs": 1, "limit_train_batches": 1, "limit_val_batches": 1},
                    budget=2, optimizer="RandomSearch", seed=1, max_params=1e6, verbose=False,
                    run_dir=tmp_path / "seed1").run()
    assert result.best is not None


class ForwardPickyNet(TinyNet):
    """``TinyNet`` with an ``example_input_array`` whose forward refuses the widths in
    ``refused`` (as a reshape only some sizes fit); its ``__init__`` builds every width."""

    def __init__(self, width: int = 16, refused: tuple[int, ...] = (4,), **kwargs) -> None:
        super().__init__(width=width, **kwargs)
        self.refused = tuple(refused)
        self.example_input_array = torch.zeros(2, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.hparams.width in self.refused:
            raise RuntimeError(f"width {self.hparams.width} does not fit the reshape")
        return super().forward(x)


def test_an_architecture_whose_forward_raises_in_the_count_is_a_failed_trial(tmp_path):
    # was: its CountError stopped the whole search (after the run folder was written), or
    # refused it before the start where the check happened to count that architecture first
    trainer = {"max_epochs": 1, "limit_train_batches": 1, "limit_val_batches": 1}
    for seed in (0, 1):  # seed 1 proposes (and the check counts) width 4 first
        result = Search(ForwardPickyNet, {"width": {"choice": [4, 8, 16]}}, data=BlobData,
                        trainer=trainer, budget=5, optimizer="RandomSearch", seed=seed,
                        max_flops=1e9, verbose=False, run_dir=tmp_path / str(seed)).run()
        status = {t.arch["width"]: t.status for t in result.trials}
        assert status == {4: TrialStatus.FAILED, 8: TrialStatus.COMPLETED,
                          16: TrialStatus.COMPLETED}, seed
        failed = next(t for t in result.trials if t.arch["width"] == 4)
        assert "forward on its example_input_array before training" in failed.error
        assert "raised RuntimeError: width 4 does not fit the reshape" in failed.error
    # a forward that no architecture gets through is the setup's: refused before the start
    with pytest.raises(ConfigError, match=r"max_flops needs each candidate's costs counted "
                                          r"before it trains: counting flops runs "
                                          r"ForwardPickyNet's forward .* raised RuntimeError: "
                                          r"width \d+ does not fit"):
        Search(ForwardPickyNet, {"width": {"choice": [4, 8, 16]}}, data=BlobData,
               model_init_args={"refused": (4, 8, 16)}, trainer=trainer, budget=2,
               max_flops=1e9, run_dir=tmp_path / "none")
    assert not (tmp_path / "none").exists()


class UnreachedLazyNet(TinyNet):
    """``TinyNet`` with a lazy head its forward never reaches (one ``training_step`` would
    use), and an ``example_input_array`` to count the lazy layers with."""

    def __init__(self, width: int = 16, **kwargs) -> None:
        super().__init__(width=width, **kwargs)
        self.aux = nn.LazyLinear(3)
        self.example_input_array = torch.zeros(2, 8)


def test_a_lazy_layer_the_forward_does_not_reach_is_refused_before_the_search(tmp_path):
    # was: a raw ValueError ("Attempted to use an uninitialized parameter") as each trial's
    # model failing to build, the search stopped after two of them, the run folder written
    with pytest.raises(ConfigError, match=r"counting the parameters of UnreachedLazyNet runs "
                                          r"its forward on example_input_array, which leaves "
                                          r"lazy parameters unmade: aux.weight, aux.bias \(a "
                                          r"lazy module forward does not reach"):
        Search(UnreachedLazyNet, {"width": {"choice": [8, 16]}}, data=BlobData,
               trainer={"max_epochs": 1}, budget=2, max_params=1e6,
               run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()



class SomeUnreachedLazyNet(UnreachedLazyNet):
    """``UnreachedLazyNet`` whose unreached lazy head only width 16 has."""

    def __init__(self, width: int = 16, **kwargs) -> None:
        super().__init__(width=width, **kwargs)
        if width != 16:
            self.aux = None


def test_a_later_architecture_whose_lazy_layer_the_forward_does_not_reach_is_a_failed_trial(
        tmp_path):
    # was: once the check had counted another architecture, the search stopped at that
    # architecture's proposal with a bare CountError naming no architecture, its trials cut
    # short; a forward that raises for it is a FAILED trial, and so is this
    trainer = {"max_epochs": 1, "limit_train_batches": 1, "limit_val_batches": 1}
    result = Search(SomeUnreachedLazyNet, {"width": {"choice": [4, 8, 16]}}, data=BlobData,
                    trainer=trainer, budget=3, optimizer="RandomSearch", seed=0,
                    max_params=1e6, verbose=False, run_dir=tmp_path / "run").run()
    status = {t.arch["width"]: t.status for t in result.trials}
    assert status == {4: TrialStatus.COMPLETED, 8: TrialStatus.COMPLETED,
                      16: TrialStatus.FAILED}
    failed = next(t for t in result.trials if t.arch["width"] == 16)
    assert "leaves lazy parameters unmade: aux.weight, aux.bias" in failed.error

class MaskedNet(nn.Module):
    """A forward of ``input_ids`` and the ``attention_mask`` its ``on_after_batch_transfer``
    derives (Lightning's model summary applies that hook to ``example_input_array``)."""

    def __init__(self, with_mask: bool = False) -> None:
        super().__init__()
        self.head = nn.Linear(4, 2)
        ids = torch.ones(2, 4)
        self.example_input_array = {"input_ids": ids, **({"attention_mask": ids}
                                                         if with_mask else {})}

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        return {**batch, "attention_mask": torch.ones_like(batch["input_ids"])}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(input_ids * attention_mask)


def test_the_flops_count_passes_example_input_array_as_it_is():
    # pins what the README says (was: "as Lightning's model summary passes it", which
    # applies the module's batch-transfer hooks first; the count does not)
    from pathlib import Path

    text = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    assert "as Lightning's model summary passes it" not in text
    assert "the count does not apply the module's batch-transfer hooks" in text
    assert _flops(MaskedNet(with_mask=True)) == 2 * 2 * 4 * 2  # a dict: as keywords
    with pytest.raises(CountError, match="attention_mask"):  # the hook is not applied
        _flops(MaskedNet())
