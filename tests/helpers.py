"""The import paths ``tests.helpers.NAME`` that tests name as strings: ``class_path:
tests.helpers.TinyNet`` in a config, ``_target_``, ``Search("tests.helpers.BlobData")``, a
script a test writes. Tests that read such a path back (``object_path``, a saved config, a
message) read ``tests.helpers`` too: ``at_helpers`` makes it these objects' module.

The code is in topic modules, which Python code imports: ``tests.helpers_data`` (blobs and
their DataModules), ``tests.helpers_models`` (LightningModules), ``tests.helpers_nets``
(``NASModule`` builders, supernets), ``tests.helpers_ranks`` (DDP trials),
``tests.helpers_callbacks`` (callbacks), ``tests.helpers_kill`` (runs killed with SIGKILL),
``tests.helpers_runs``, ``tests.helpers_oneshot`` (one-shot runs of the digits example) and
``tests.helpers_ctrl_c`` (running and interrupting runs). A name is here only if
``at_helpers`` marks it, and then it must be.

Example:
    >>> TinyNet.__module__
    'tests.helpers'
"""

from __future__ import annotations

from tests.helpers_callbacks import (
    CountEpochs,
    CrashAt,
    CrashAtTrainEnd,
    CtrlCAtEpoch,
    CtrlCAtFirstBatch,
    CtrlCAtSecondTrial,
    CtrlCAtTrainEnd,
    EpochLog,
    FitSpans,
    KillAtEpochStart,
    KillAtTrainEnd,
    KillBeforeEpochCheckpoint,
    KillInFinetuneDigits,
    KillInResumedSearch,
    NASErrorAt,
    OutliveTheSearch,
    SaveInitialWeights,
    SigtermAtFirstBatch,
    WaitAtStart,
)
from tests.helpers_data import (
    BlobData,
    LoaderArgsData,
    TwoValBlobData,
    make_blobs,
)
from tests.helpers_kill import FitEndKiller, RowKiller
from tests.helpers_models import (
    AccAfterWarmup,
    ActNet,
    CallableOptNet,
    ClassesNet,
    ConfigureModelNet,
    DictArgNet,
    EnvNotes,
    KwargsCallableOptNet,
    LazyNoisyNet,
    NamedWidthNet,
    ScriptedSlotNet,
    TinyNet,
    TwoLoaderNet,
    TypedNet,
    annotated,
)
from tests.helpers_nets import (
    Body,
    KwBody,
    LastCkptSupernet,
    TinySupernet,
    TwoValSupernet,
    build_mlp,
    smooth_ce,
)
from tests.helpers_oneshot import PlateauDigits, RateLog
from tests.helpers_paths import AT_HELPERS
from tests.helpers_ranks import (
    FailsOnRank1AtTheEnd,
    LeavesExitWork,
    MetricNet,
    NotesAtExit,
    NoTrainDataOnRank1,
    RankFaults,
    RankRecorder,
    SeedEnv,
    ShareNet,
    SigtermInTrainData,
    SyncedTinyNet,
)

__all__ = [
    "AccAfterWarmup",
    "ActNet",
    "BlobData",
    "Body",
    "CallableOptNet",
    "ClassesNet",
    "ConfigureModelNet",
    "CountEpochs",
    "CrashAt",
    "CrashAtTrainEnd",
    "CtrlCAtEpoch",
    "CtrlCAtFirstBatch",
    "CtrlCAtSecondTrial",
    "CtrlCAtTrainEnd",
    "DictArgNet",
    "EnvNotes",
    "EpochLog",
    "FailsOnRank1AtTheEnd",
    "FitEndKiller",
    "FitSpans",
    "KillAtEpochStart",
    "KillAtTrainEnd",
    "KillBeforeEpochCheckpoint",
    "KillInFinetuneDigits",
    "KillInResumedSearch",
    "KwBody",
    "KwargsCallableOptNet",
    "LastCkptSupernet",
    "LazyNoisyNet",
    "LeavesExitWork",
    "LoaderArgsData",
    "MetricNet",
    "NASErrorAt",
    "NamedWidthNet",
    "NoTrainDataOnRank1",
    "NotesAtExit",
    "OutliveTheSearch",
    "PlateauDigits",
    "RankFaults",
    "RankRecorder",
    "RateLog",
    "RowKiller",
    "SaveInitialWeights",
    "ScriptedSlotNet",
    "SeedEnv",
    "ShareNet",
    "SigtermAtFirstBatch",
    "SigtermInTrainData",
    "SyncedTinyNet",
    "TinyNet",
    "TinySupernet",
    "TwoLoaderNet",
    "TwoValBlobData",
    "TwoValSupernet",
    "TypedNet",
    "WaitAtStart",
    "annotated",
    "build_mlp",
    "make_blobs",
    "smooth_ce",
]

if sorted(AT_HELPERS) != sorted(__all__):  # a module marked a name this one leaves out
    raise ImportError(f"tests.helpers re-exports {sorted(__all__)}; at_helpers marked "
                      f"{sorted(AT_HELPERS)}: make them the same")
