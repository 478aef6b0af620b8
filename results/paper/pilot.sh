#!/usr/bin/env bash
# The scale pilot (issue 23): candidate CPU scales for Tables 1 and 4, each measured on the two rows none and
# product_ctx over several seeds, two runs at a time with one thread each, into results/paper/runs (the
# chosen scale's runs are the first seeds of its tables). CPU time of each sweep (its worker processes
# included) is appended to results/paper/pilot/cpu.log; `python -m ablate.results.paper.pilot` reads
# both and prints the pilot table and writes its figure.
#
#   bash results/paper/pilot.sh            # run or resume every candidate
#   CANDIDATES="cpu_60k_2ep" bash results/paper/pilot.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
ABLATE=${ABLATE:-.venv/bin/ablate}
RUNS=results/paper/runs
LOG=results/paper/pilot/cpu.log
ROWS="+experiment/paper/row=none,product_ctx"
COMMON="runtime.threads=1 logging.tensorboard=false -j 2 --results-dir $RUNS"
# The CPU proxy's recipe (batch 64, lr 3e-3, no flips or shifts) on a seeded training subset or all of it,
# evaluated on all 10,000 test images; the GPU proxy as it is.
declare -A OVERRIDES=(
  [cpu_8k_3ep]="scale=proxy name=paper_cpu_8k_3ep data.subset=seed data.val_limit=null seed=0,1,2,3,4,5"
  [cpu_20k_3ep]="scale=proxy name=paper_cpu_20k_3ep data.subset=seed data.train_limit=20000 data.val_limit=null seed=0,1,2,3,4,5"
  [cpu_60k_2ep]="scale=proxy name=paper_cpu_60k_2ep data.train_limit=null data.val_limit=null train.epochs=2 seed=0,1,2,3"
  [gpu_proxy]="scale=gpu_proxy seed=0,1,2,3"
)
CANDIDATES=${CANDIDATES:-"cpu_8k_3ep cpu_20k_3ep cpu_60k_2ep gpu_proxy"}
mkdir -p "$(dirname "$LOG")"
status=0
for scale in $CANDIDATES; do
  name=$(echo "${OVERRIDES[$scale]}" | grep -o 'name=[^ ]*' | cut -d= -f2)
  dir=$RUNS/${name:-paper_$scale}
  before=$(ls "$dir"/*/record.json 2>/dev/null | wc -l)
  start=$(date -u +%FT%TZ)
  # shellcheck disable=SC2086  # word lists
  /usr/bin/time -f "%U %S %e" -o /tmp/pilot-time.$$ \
    "$ABLATE" sweep experiment=paper/table1 ${OVERRIDES[$scale]} "$ROWS" $COMMON || status=1
  after=$(ls "$dir"/*/record.json 2>/dev/null | wc -l)
  read -r user sys wall < /tmp/pilot-time.$$
  echo "$start $scale runs=$((after - before)) user_s=$user sys_s=$sys wall_s=$wall load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)" >> "$LOG"
done
rm -f /tmp/pilot-time.$$
exit $status
