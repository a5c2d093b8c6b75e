#!/usr/bin/env bash
# The GPU checks in one go, for a machine with a CUDA device (CI never runs this; no test depends on it):
#   1. the fused recurrence built, and the CUDA tests (tests/test_precision.py: hand BPTT on cuda against
#      torch.nn with cuDNN in float64, fp16 training with a gradient scaler) with the layer tests beside them;
#   2. the shakespeare-char LM (the CPU benchmark's recipe: LSTM 2x512, 2,500 steps; 4 minutes at most) on cuda
#      -> lm_shakespeare_cuda.json (the run's metrics: valid loss against wall time);
#   3. benchmarks/recurrent_speed.py on cuda with the LM sampling speed -> recurrent_speed_cuda.json.
# Results go to $OUT if set (the device machine's output folder), else benchmarks/results/.
#
#     bash benchmarks/gpu.sh [CHAR_LM_TEXT]        (default ../shared/data/char_lm/input.txt)
set -uo pipefail
out=${OUT:-benchmarks/results}
text=${1:-../shared/data/char_lm/input.txt}
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())" || exit 2
python3 -m seqlab.nn.build
python3 -m pytest -q -p no:cacheprovider -rs tests/test_precision.py tests/test_layers.py 2>&1 | tail -8 | tee "$out/gpu_tests.txt"
rm -rf /tmp/gpu-runs
python3 -m seqlab train lm --preset shakespeare-char --data "$text" --runs /tmp/gpu-runs --name char \
    --train.device=cuda --train.progress=false --train.max_minutes=4
python3 - "$out" <<'PY'
import json, sys, torch
from pathlib import Path
sys.path.insert(0, "benchmarks")
from common import write_results
from seqlab.plots import read_metrics
run = Path("/tmp/gpu-runs/char")
logged = read_metrics(run)
valid = [r for r in logged if r.get("split") == "valid"]
speeds = [r["tokens_per_s"] for r in logged if r.get("split") == "train" and "tokens_per_s" in r]
config = json.loads((run / "config.json").read_text())
row = {"preset": "shakespeare-char", "device": torch.cuda.get_device_name(), "steps": valid[-1]["step"],
       "train_time_s": valid[-1]["time_s"], "best_valid_loss": round(min(r["loss"] for r in valid), 4),
       "median_tokens_per_s": round(sorted(speeds)[len(speeds) // 2]) if speeds else None,
       "valid_curve": [{"step": r["step"], "time_s": r["time_s"], "valid_loss": round(r["loss"], 4)} for r in valid],
       "config": config}
print(json.dumps({k: v for k, v in row.items() if k not in ("valid_curve", "config")}))
write_results("lm_shakespeare_cuda", {"runs": [row]}, valid[-1]["time_s"], Path(sys.argv[1]) / "lm_shakespeare_cuda.json")
PY
python3 benchmarks/recurrent_speed.py --device cuda --sampling --reps 5 --out "$out/recurrent_speed_cuda.json"
