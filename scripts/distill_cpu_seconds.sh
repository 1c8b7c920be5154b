#!/usr/bin/env bash
# CPU seconds per distillation step (all threads, user + sys), Slim's and the
# torch peer's (../shared/peers/torch_peers.py, with its OpenMP threads waiting
# as by default, then passive), from the difference of a 4-step and a 1-step run
# so the setup cancels. On a loaded machine wall time mostly measures the wait
# for a core; CPU seconds are closer to what a quiet machine spends (README).
cd "$(dirname "$0")/.."; S=${S:-.build/release/slim}; P=${PYTHON:-python3}; PEERS=${PEERS:-../shared/peers}
export SLIM_THREAD_SPIN=0
lscpu | grep -E "Model name|^CPU\(s\)"; uptime
cpu() { /usr/bin/time -f "%U %S" "$@" 2>&1 >/dev/null | tail -1 | awk '{print $1 + $2}'; }
per_step() { echo "($2 - $1) / 3" | bc -l | cut -c1-5; }
a=$(cpu $S bench distill --runs 1 --backend cpu); b=$(cpu $S bench distill --runs 4 --backend cpu)
echo "slim: $(per_step $a $b) CPU s per step"
steps=$(mktemp); trap 'rm -f "$steps"' EXIT
cat > "$steps" <<PY
import sys; src = open("$PEERS/torch_peers.py").read()
exec(src[:src.index("rows = []")] + "rows = []\n" + src[src.index("# distillation step"):src.index("t = bench(step")]
     + "\nfor _ in range(int(sys.argv[1])): step()\n")
PY
a=$(cpu $P "$steps" 1); b=$(cpu $P "$steps" 4)
echo "torch (its default OpenMP waiting): $(per_step $a $b) CPU s per step"
a=$(OMP_WAIT_POLICY=PASSIVE cpu $P "$steps" 1); b=$(OMP_WAIT_POLICY=PASSIVE cpu $P "$steps" 4)
echo "torch (OMP_WAIT_POLICY=PASSIVE): $(per_step $a $b) CPU s per step"
