#!/usr/bin/env bash
# Issue 14's GPU check, prepared here and run in one device call (one CUDA GPU, no network, 10 minutes).
#
#   bash bench/gpu_check.sh prepare           # here: .gpu/ (git-ignored, < 64 MiB) with what the device lacks:
#                                             #   wheels (lm-eval 0.4.13, pydantic), the first 12 CMMLU subjects,
#                                             #   lm-eval's recorded requests, the trained tokenizer and the configs
#   bash bench/gpu_check.sh run               # there, the device tool carrying .gpu: JSON to $OUT/gpu_check.json
#   bash bench/gpu_check.sh run --cpu-test    # the same path on this CPU with a small model shape
#
# The device call:  run(command="bash bench/gpu_check.sh run", carry=[".gpu"], timeout_s=600)
# What it measures and writes: bench/gpu_check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
GPU=.gpu
SUBJECTS=12
PY=${PYTHON:-python3}
WHEELS="lm_eval==0.4.13 pydantic==2.14.4 pydantic_core==2.50.5 annotated_types==0.8.0 typing_inspection==0.4.5"

prepare() {
    local data=${PANDIAN_DATA_DIR:-../shared/data}
    exclude=$(git rev-parse --git-path info/exclude)
    grep -qx "/$GPU/" "$exclude" 2>/dev/null || echo "/$GPU/" >> "$exclude"
    rm -rf "$GPU" && mkdir -p "$GPU/wheels" "$GPU/data/cmmlu/data/dev" "$GPU/data/cmmlu/data/test" \
        "$GPU/reference/perf"
    # the device's Python is 3.12; this machine's (for --cpu-test) may differ: compiled wheels for both
    for v in 3.12 "$($PY -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"; do
        $PY -m pip download -q --no-deps --only-binary=:all: --python-version "$v" --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            -d "$GPU/wheels" $WHEELS
    done
    $PY - "$data" "$GPU" "$SUBJECTS" <<'EOF'
import gzip, json, shutil, sys
from pathlib import Path
data, gpu, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
ref = data.parent / "reference" / "perf" / "cmmlu5shot_lmeval_requests.jsonl.gz"
rows = [json.loads(line) for line in gzip.open(ref, "rt", encoding="utf-8")]
subjects = sorted({r["subject"] for r in rows})[:n]
with gzip.open(gpu / "reference" / "perf" / ref.name, "wt", encoding="utf-8") as f:
    f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows if r["subject"] in subjects)
for split in ("dev", "test"):
    for s in subjects:
        shutil.copy(data / "cmmlu" / "data" / split / f"{s}.csv", gpu / "data" / "cmmlu" / "data" / split)
sys.path.insert(0, ".")
from bench import bench_models
# the tokenizer is trained on all of CMMLU's text, as for the published lm-eval figures; weights are not written
big = bench_models.qwen2_7b_config(data, gpu / "models")
small = gpu / "models" / "qwen2-small-shape"
shutil.copytree(big, small)
bench_models.reshape_config(small, hidden_size=256, num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=2,
                            intermediate_size=768)
EOF
    du -sh "$GPU"
}

run() {
    local out=${OUT:-$GPU/out} site=/tmp/pandian-gpu-site args=()
    mkdir -p "$out"
    # what the image lacks, from the carried wheels (the compatible one of each by name), ahead of site-packages
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
        --find-links "$GPU/wheels" $WHEELS 2>&1 | grep -v "^WARNING" || true
    export PYTHONPATH="$site:$PWD" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=true
    if [ "${1:-}" = "--cpu-test" ]; then
        args=(--device cpu --model "$GPU/models/qwen2-small-shape" --subjects 2 --limit 8 --lmeval-batch 16
              --chunk 1)
    else
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
        args=(--device cuda --model "$GPU/models/qwen2-7b-shape" --subjects "$SUBJECTS" --lmeval-batch 64)
    fi
    $PY bench/gpu_check.py --data-dir "$GPU/data" --json "$out/gpu_check.json" "${args[@]}"
}

case "${1:-}" in
    prepare) prepare ;;
    run) shift; run "$@" ;;
    *) echo "usage: bash bench/gpu_check.sh prepare | run [--cpu-test]" >&2; exit 2 ;;
esac
