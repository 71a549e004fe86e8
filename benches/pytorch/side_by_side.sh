#!/usr/bin/env bash
# Epoch time of stitch and PyTorch, side by side, in turn, ROUNDS times per model; prints each
# round's seconds and ratio (stitch / PyTorch) and the median ratio. Both train one epoch
# with 2 threads and batch 128 (the ladder's recipe; the deeper nets' R10 recipe with
# --deep). Run from the repository root after `cargo build --release`:
#   PYTHON=/tmp/torch/bin/python benches/pytorch/side_by_side.sh cnn conv-pool
#   PYTHON=/tmp/torch/bin/python ROUNDS=2 benches/pytorch/side_by_side.sh --deep resnet20
set -euo pipefail
PYTHON=${PYTHON:-python3}
ROUNDS=${ROUNDS:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
STITCH=${STITCH:-target/release/stitch}
deep=0
if [ "${1:-}" = "--deep" ]; then deep=1; shift; fi
for model in "$@"; do
  ratios=()
  for r in $(seq "$ROUNDS"); do
    if [ $deep = 1 ]; then
      t=$("$PYTHON" "$HERE/deep.py" --model "$model" --epochs 1 --optimizer sgd --lr 0.1 --nesterov --wd 5e-4 \
            --label-smoothing 0.1 --schedule onecycle --augment flipcrop --pad 2 --tta --threads 2 | awk '/^epoch/{print $6}')
      s=$("$STITCH" train --model "$model" --epochs 1 --optimizer sgd --lr 0.1 --nesterov --weight-decay 5e-4 \
            --label-smoothing 0.1 --schedule onecycle --augment flip,crop=2 --tta --threads 2 --quiet | awk '/^epoch/{print $(NF-3)}')
    else
      t=$("$PYTHON" "$HERE/ladder.py" --model "$model" --epochs 1 --threads 2 | awk '/^epoch/{print $6}')
      s=$("$STITCH" train --model "$model" --epochs 1 --threads 2 --quiet | awk '/^epoch/{print $(NF-3)}')
    fi
    ratio=$(awk -v s="$s" -v t="$t" 'BEGIN{printf "%.2f", s/t}')
    ratios+=("$ratio")
    echo "$model round $r: PyTorch ${t} s, stitch ${s} s, ratio ${ratio}"
  done
  median=$(printf "%s\n" "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  echo "$model median ratio ${median}x"
done
