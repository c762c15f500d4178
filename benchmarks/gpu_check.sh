#!/usr/bin/env bash
# GPU checks for a machine with an NVIDIA GPU: the CUDA tests of each package (vai-data's live in
# test_device_normalise.py, test_flip_on_device.py and test_resize_on_device.py; vai-papers' check the
# losses are sync-free and train the full-scale paper configs with --amp), the model benchmark
# (forward ratios and fp32-vs-AMP training steps), the engine-vs-hand-loop benchmark, the device's share
# of a train batch (bench_device_transform.py), and the demo
# trained on the GPU with AMP (then again with --channels-last --persistent-workers, and with --compile),
# and the models through torch.compile against eager (bench-models-compile). Run from the repository root with the four packages importable
# (installed, or on PYTHONPATH):  bash benchmarks/gpu_check.sh [OUTPUT_DIR [STEP...]]
# Each step's output goes to OUTPUT_DIR (default ./gpu-check) as well as to the terminal. Naming steps
# (tests-data-cuda, tests-models-cuda, tests-train-cuda, tests-papers-cuda, demo-cuda-amp,
# demo-cuda-amp-cl-persistent, demo-cuda-amp-compile, bench-train, bench-models, bench-models-compile,
# bench-device-transform) runs only those, in
# this order: for a short GPU lease. An unknown name is refused before anything runs.
set -uo pipefail
OUT_DIR=${1:-gpu-check}
shift $(( $# > 0 ? 1 : 0 ))
ALL_STEPS="tests-data-cuda tests-models-cuda tests-train-cuda tests-papers-cuda demo-cuda-amp
demo-cuda-amp-cl-persistent demo-cuda-amp-compile bench-train bench-models bench-models-compile
bench-device-transform"
for wanted in "$@"; do
    case " $(echo $ALL_STEPS) " in
        *" $wanted "*) ;;
        *) echo "gpu_check.sh: unknown step '$wanted'; steps: $(echo $ALL_STEPS)" >&2; exit 2 ;;
    esac
done
SELECTED=" $* "
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1
status=0
step() {  # step NAME COMMAND...: run, tee the log, remember a failure, go on
    local name=$1; shift
    if [ "$SELECTED" != "  " ] && [[ "$SELECTED" != *" $name "* ]]; then return 0; fi
    echo "=== $name: $*"
    "$@" 2>&1 | tee "$OUT_DIR/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "=== $name: exit $rc"
    [ "$rc" -eq 0 ] || status=1
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(0), 'NCCL', torch.cuda.nccl.version())"
step tests-data-cuda python3 -m pytest -q -ra -p no:cacheprovider packages/vai-data/tests/test_device_normalise.py packages/vai-data/tests/test_flip_on_device.py packages/vai-data/tests/test_resize_on_device.py -k cuda
for pkg in models train papers; do
    step "tests-$pkg-cuda" python3 -m pytest -q -ra -p no:cacheprovider "packages/vai-$pkg/tests/test_cuda.py"
done
demo_root=$(mktemp -d)
step demo-cuda-amp env VAI_DATA_ROOT="$demo_root/data" python3 -m vai_train.cli train \
    -D synthetic_motion -M tsm_resnet18 -E demo -R "$demo_root/exp" \
    --config-root packages/vai-papers/src/vai_papers/configs --device cuda --amp -w 4 --no-progress
cp "$demo_root"/exp/synthetic_motion/tsm_resnet18/demo/version_000/logs/summary.csv "$OUT_DIR/demo-summary.csv" 2>/dev/null
# the same demo with channels-last weights and persistent workers: compare its train_runtime_sec per epoch
step demo-cuda-amp-cl-persistent env VAI_DATA_ROOT="$demo_root/data" python3 -m vai_train.cli train \
    -D synthetic_motion -M tsm_resnet18 -E demo -R "$demo_root/exp" -v 1 \
    --config-root packages/vai-papers/src/vai_papers/configs --device cuda --amp -w 4 --no-progress \
    --channels-last --persistent-workers
cp "$demo_root"/exp/synthetic_motion/tsm_resnet18/demo/version_001/logs/summary.csv \
    "$OUT_DIR/demo-summary-cl-persistent.csv" 2>/dev/null
# the same demo through torch.compile (Inductor): its first epoch compiles, compare the later ones
step demo-cuda-amp-compile env VAI_DATA_ROOT="$demo_root/data" python3 -m vai_train.cli train \
    -D synthetic_motion -M tsm_resnet18 -E demo -R "$demo_root/exp" -v 2 \
    --config-root packages/vai-papers/src/vai_papers/configs --device cuda --amp -w 4 --no-progress --compile
cp "$demo_root"/exp/synthetic_motion/tsm_resnet18/demo/version_002/logs/summary.csv \
    "$OUT_DIR/demo-summary-compile.csv" 2>/dev/null
step bench-train python3 benchmarks/bench_train.py --device cuda
step bench-models python3 benchmarks/bench_models.py --device cuda --train
step bench-models-compile python3 benchmarks/bench_models.py --device cuda --train --compile
step bench-device-transform python3 benchmarks/bench_device_transform.py --device cuda
exit $status
