#!/usr/bin/env bash
# Checks on a machine with a CUDA GPU (CI has none; run by hand where one is lent):
#   bash .ci/gpu_check.sh OUT_DIR [ACCELERATOR]      (ACCELERATOR cpu tries the script itself)
# Each step prints "=== N name" and its own output; "CHECK ok|FAILED" lines are the verdicts.
set -u
OUT=${1:-/tmp/gpu_check}; ACC=${2:-gpu}
mkdir -p "$OUT"; W=$(mktemp -d)
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
NAS="python -m lightning_nas"
step() { echo; echo "=== $*"; date -u +%T; }

step 0 environment
nvidia-smi -L 2>/dev/null
python -c "import torch, lightning, torchmetrics, nevergrad as ng
print('torch', torch.__version__, 'lightning', lightning.__version__, 'torchmetrics',
      torchmetrics.__version__, 'nevergrad', ng.__version__, 'cuda', torch.cuda.device_count())"

step 1 search on the "$ACC"
timeout 240 $NAS search examples/digits/search.yaml --trainer.accelerator="$ACC" \
    --search.budget=6 --trainer.max_epochs=4 --search.run_dir="$W/s" 2>&1 | tail -9

step 2 export, then best.ckpt validated afresh on the "$ACC" and on the CPU
$NAS export "$W/s" 2>&1 | tail -1
revalidate() {  # RUN_DIR PRECISION: best.yaml's score against a fresh Trainer.validate
python - "$1" "$ACC" "$2" <<'PY'
import sys, warnings
warnings.filterwarnings("ignore")
import lightning.pytorch as pl
from examples.digits.data import DigitsDataModule
from examples.digits.model import DigitsCNN
from lightning_nas import load_best
run, acc, precision = sys.argv[1:4]
best = load_best(run)
for accelerator, prec in ((acc, precision), ("cpu", "32-true")):
    model = DigitsCNN.load_from_checkpoint(f"{run}/best.ckpt", map_location="cpu")
    trainer = pl.Trainer(accelerator=accelerator, devices=1, precision=prec, logger=False,
                         enable_progress_bar=False, enable_model_summary=False)
    got = trainer.validate(model, DigitsDataModule(batch_size=64), verbose=False)[0]
    score = got[best["monitor"]]
    ok = abs(score - best["score"]) < 1e-4
    verdict = "ok" if ok else "FAILED" if prec == precision else "differs (another precision)"
    print(f"CHECK {verdict}: {accelerator} {prec} validation {score:.6f}, "
          f"stored {best['score']:.6f} (trial {best['trial']}, epoch {best['epoch']})")
PY
}
revalidate "$W/s" 32-true 2>&1 | grep CHECK

step 3 finetune from best.ckpt on the "$ACC", two epochs
timeout 120 $NAS finetune "$W/s" --max_epochs 2 --trainer.accelerator="$ACC" 2>&1 | tail -4

step 4 two workers asked for on one device
timeout 240 $NAS search examples/digits/search.yaml --trainer.accelerator="$ACC" \
    --search.budget=4 --trainer.max_epochs=2 --search.num_workers=2 \
    --search.run_dir="$W/p" 2>&1 | tail -5

step 5 trials in bf16-mixed
timeout 120 $NAS search examples/digits/search.yaml --trainer.accelerator="$ACC" \
    --trainer.precision=bf16-mixed --search.budget=3 --trainer.max_epochs=2 \
    --search.run_dir="$W/b" 2>&1 | tail -3
$NAS export "$W/b" 2>&1 | tail -1
revalidate "$W/b" bf16-mixed 2>&1 | grep CHECK

step 6 one-shot DARTS/GDAS, bf16-mixed, export and fine-tune
timeout 240 $NAS oneshot examples/oneshot_digits/darts.yaml --trainer.accelerator="$ACC" \
    --trainer.precision=bf16-mixed --oneshot.run_dir="$W/o" 2>&1 | tail -8

step 7 test suite, the GPU visible
# at the limit pytest is killed: .ci/failures_now.py has written each failure as it came.
# Mind the load: DDP and worker tests start 2-3 processes each, so keep SUITE_WORKERS well
# under the core count (14 workers on 16 cores, 2026-12-04: 24 kill, resume, DDP and Hydra
# subprocess tests failed or errored, why not captured; on 2 cores with -n 2 they pass)
FAILURES_NOW="$OUT/failures.txt" PYTHONPATH=".ci:${PYTHONPATH:-}" timeout "${SUITE_TIMEOUT:-400}" \
    python -m pytest -q -p no:cacheprovider -p failures_now -n "${SUITE_WORKERS:-6}" \
    -W ignore -rfE > "$OUT/suite.log" 2>&1; echo "suite exit $?"
grep "^=== " "$OUT/failures.txt" 2>/dev/null
tail -25 "$OUT/suite.log"
step done
