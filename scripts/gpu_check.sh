#!/usr/bin/env bash
# Every CUDA path of the grader, on a machine with an NVIDIA GPU, in under five minutes.
#
#   bash scripts/gpu_check.sh            # prints one line per step and a summary; exit 0 if all passed
#
# Where there is no NVIDIA GPU it says so and exits 0 (nothing to check). Each step has a
# time limit of its own; what it ran and what came back go to $GPU_CHECK_LOG (default: a
# file under /tmp, named in the summary). The steps:
#
#   1. the machine: nvidia-smi, torch's CUDA build, the sandbox mode;
#   2. CUDA inside the sandbox: a learner process sees the GPU, started cold and forked by the
#      warm grader's torch zygote (GRADE_WARM=1: forked processes are not trusted with CUDA
#      until this passes on a GPU machine; see grader/runner/warm.py);
#   3. the backprop and mlp checks on the reference solutions (they run on cuda and cpu when
#      CUDA is available), cold and warm: every point;
#   4. a wrong CUDA answer (gradients sent back on the CPU for CUDA inputs) fails, naming the device;
#   5. the timed runs on CUDA (grade bench backprop mlp): a cuda row per timed function, judged;
#   6. the project's own CUDA test (tests/test_timing_run.py::test_cuda_timing_synchronises_and_judges);
#   7. the pictures (grade plot mlp, grade plot activations).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
LOG=${GPU_CHECK_LOG:-$(mktemp /tmp/gpu-check-XXXXXX.log)}
WORK=$(mktemp -d /tmp/gpu-check-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
: > "$LOG"

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu_check: no NVIDIA GPU on this machine (nvidia-smi is missing or finds no device): nothing to check."
    echo "gpu_check: run it on a machine with an NVIDIA GPU and a CUDA build of torch."
    exit 0
fi
if ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" >>"$LOG" 2>&1; then
    echo "gpu_check: this machine has an NVIDIA GPU, but $PYTHON's torch cannot use it:"
    "$PYTHON" -c "import torch; print('  torch', torch.__version__, 'built for CUDA', torch.version.cuda)" 2>&1
    echo "gpu_check: install a CUDA build of torch (https://pytorch.org/get-started/locally/) and run it again."
    exit 1
fi

PASSED=0
FAILED=0
SUMMARY=()

step() {  # step NAME SECONDS COMMAND...: run it with a time limit, note PASS or FAIL
    local name=$1 limit=$2
    shift 2
    local started=$SECONDS
    echo "=== $name: $*" >>"$LOG"
    if timeout "$limit" "$@" >>"$LOG" 2>&1; then
        PASSED=$((PASSED + 1))
        SUMMARY+=("PASS  $name ($((SECONDS - started)) s)")
        echo "PASS  $name ($((SECONDS - started)) s)"
    else
        local code=$?
        FAILED=$((FAILED + 1))
        local why="exit $code"
        [ "$code" = 124 ] && why="over its $limit s"
        SUMMARY+=("FAIL  $name ($why; see $LOG)")
        echo "FAIL  $name ($why)"
    fi
}

# --------------------------------------------------------------------------- 1. the machine
nvidia-smi -L | sed 's/^/gpu_check: /'
"$PYTHON" -c "
import torch
from grader.runner.sandbox import sandbox_mode
print('gpu_check: torch', torch.__version__, '(CUDA', torch.version.cuda + ');', torch.cuda.device_count(),
      'device(s):', torch.cuda.get_device_name(0) + '; sandbox:', sandbox_mode(True))
" 2>&1 | tee -a "$LOG"

# --------------------------------------------------------------------------- 2. CUDA in the sandbox
cat > "$WORK/cudaprobe.py" <<'EOF'
import torch


def probe():
    x = torch.arange(6.0, device="cuda").reshape(2, 3)
    return [torch.cuda.is_available(), torch.cuda.device_count(), str((x @ x.T).device), float((x @ x.T).sum())]
EOF
cat > "$WORK/probe.py" <<'EOF'
import sys
from grader.runner.sandbox import LearnerProcess, Limits

process = LearnerProcess("cudaprobe", sys.argv[1], Limits(call_timeout=120), torch=True)
try:
    error = process.start()
    assert error is None, error
    value = process.call("probe").value
    print("warm" if process.warm else "cold", process.sandbox, value)
    assert value[0] is True and value[1] >= 1 and value[2].startswith("cuda") and value[3] == 110.0, value
    assert process.warm == (sys.argv[2] == "1"), f"expected GRADE_WARM={sys.argv[2]} to decide the start"
finally:
    process.close()
EOF
step "CUDA in a cold learner process" 120 env GRADE_WARM=0 "$PYTHON" "$WORK/probe.py" "$WORK/cudaprobe.py" 0
step "CUDA in a learner process forked by the torch zygote" 120 \
    env GRADE_WARM=1 "$PYTHON" "$WORK/probe.py" "$WORK/cudaprobe.py" 1

# --------------------------------------------------------------------------- 3. the checks on CUDA
cat > "$WORK/full.py" <<'EOF'
import json, sys
report = json.load(sys.stdin)
print(report["sandbox"], report["score"], "/", report["max_score"])
assert report["score"] == report["max_score"] > 0, [
    (c["function"], c["name"], c["message"][:200]) for e in report["exercises"] for c in e["checks"] if not c["passed"]]
EOF
for warm in 0 1; do
    step "backprop and mlp checks on cuda and cpu (GRADE_WARM=$warm)" 150 bash -c \
        "GRADE_WARM=$warm '$PYTHON' -m grader run backprop mlp --source solutions --no-timing --format json \
         --no-progress | '$PYTHON' '$WORK/full.py'"
done

# --------------------------------------------------------------------------- 4. a wrong CUDA answer
mkdir -p "$WORK/wrong"
cp solutions/backprop.py "$WORK/wrong/backprop.py"
cat >> "$WORK/wrong/backprop.py" <<'EOF'


_relu_backward_right = relu_backward


def relu_backward(dy, x):
    return _relu_backward_right(dy, x).cpu()  # planted: sent back on the CPU for CUDA inputs
EOF
cat > "$WORK/wrong.py" <<'EOF'
import json, sys
report = json.load(sys.stdin)
failed = [c for e in report["exercises"] for c in e["checks"] if c["function"] == "relu_backward" and not c["passed"]]
print(len(failed), "failing relu_backward checks;", failed[0]["message"][:200] if failed else "")
assert failed and any("cuda" in c["message"] for c in failed), "the device is not named"
EOF
step "a wrong CUDA answer fails, naming the device" 120 bash -c \
    "'$PYTHON' -m grader run backprop --source '$WORK/wrong' --no-timing --format json --no-progress \
     | '$PYTHON' '$WORK/wrong.py'"

# --------------------------------------------------------------------------- 5. timed runs on CUDA
cat > "$WORK/bench.py" <<'EOF'
import json, sys
doc = json.load(sys.stdin)
cuda = [r for r in doc["rows"] if r["device"] == "cuda"]
for r in doc["rows"]:
    print(r["exercise"], r["function"], r["device"], r["outcome"], r["ratio"])
assert doc["cuda"]["available"] is True, doc["cuda"]
assert cuda and all(r["outcome"] in ("pass", "undecided") for r in cuda), "a cuda row did not pass"
EOF
step "timed runs on cuda (grade bench backprop mlp)" 180 bash -c \
    "'$PYTHON' -m grader bench backprop mlp --source solutions --format json | '$PYTHON' '$WORK/bench.py'"

# --------------------------------------------------------------------------- 6. the project's CUDA test
step "tests/test_timing_run.py CUDA test" 180 "$PYTHON" -m pytest -q -p no:cacheprovider -n 0 \
    "tests/test_timing_run.py::test_cuda_timing_synchronises_and_judges"

# --------------------------------------------------------------------------- 7. pictures
if "$PYTHON" -c "import matplotlib" >/dev/null 2>&1; then
    step "grade plot mlp" 120 "$PYTHON" -m grader plot mlp --source solutions --out "$WORK/mlp.png"
    step "grade plot activations" 60 "$PYTHON" -m grader plot activations --source solutions \
        --out "$WORK/activations.png"
else
    SUMMARY+=("SKIP  pictures (matplotlib is not installed: pip install matplotlib)")
fi

echo
echo "gpu_check summary ($SECONDS s; details in $LOG):"
printf '  %s\n' "${SUMMARY[@]}"
echo "  $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
