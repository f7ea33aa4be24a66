#!/bin/sh
# The runs behind the "Transfer learning" section of BENCHMARKS.md, one after
# another; each writes its run folder under runs/bench-transfer/. Sized to run
# in about 40 minutes on a shared CPU with the lavapipe software GPU.
# Usage: npx vite build --logLevel warn && sh bench/transfer.sh
set -e
out=runs/bench-transfer
node dist/cli.js transfer finetune --strategy all --shots 1,5,10,50 --widths 128,64,32 \
  --pretrain-steps 300 --epochs 4 --steps-per-epoch 10 --lr 0.01 --log-interval 100 --out $out/finetune
node dist/cli.js transfer dann --domain blended --widths 128,64 --steps 400 --train-images 10000 \
  --test-images 2000 --log-interval 100 --out $out/dann
node dist/cli.js transfer distill --kind response --widths 128,64 --student-widths 16 \
  --teacher-steps 400 --student-images 500 --epochs 10 --log-interval 100 --out $out/distill-response
node dist/cli.js transfer distill --kind response --widths 128,64 --student-widths 16 \
  --teacher-steps 400 --student-images 500 --epochs 20 --batch-size 32 --log-interval 100 \
  --out $out/distill-response-b32
node dist/cli.js transfer distill --kind feature --widths 128,64 --student-widths 16 \
  --teacher-steps 400 --student-images 500 --epochs 10 --log-interval 100 --out $out/distill-feature
node dist/cli.js transfer pretrain simclr --widths 128,64 --steps 150 --batch-size 64 \
  --images 10000 --probe-images 2000 --test-images 2000 --episodes 100 --log-interval 50 --out $out/simclr
node dist/cli.js transfer pretrain moco --widths 128,64 --steps 150 --batch-size 64 \
  --queue-size 1024 --images 10000 --probe-images 2000 --test-images 2000 --episodes 100 \
  --log-interval 50 --out $out/moco
