#!/usr/bin/env bash
# The quantized-GEMM comparison in one run: machine load, the peers (numpy,
# onnxruntime), then Slim on the CPU (fp32 and int8-block activations, and
# weights streamed from memory) and on OpenCL. Usage: qgemm_compare.sh .build/release/slim
S=$1
echo "== load"; uptime
echo "== peers"; "$(dirname "$0")/qgemm_peers.sh" 1x4096x4096 64x4096x4096 2>&1 | tail -30
echo "== slim fp32 gemm"; $S bench gemm --shape 1x4096x4096,64x4096x4096 --backend cpu --json 2>/dev/null | python3 -c "import json,sys; [print('fp32', r['shape'], round(r['median_ms'],3)) for r in json.load(sys.stdin)]"
for a in f32 int8-block; do
  echo "== slim cpu activations $a"
  F=w8a8,; [ $a = int8-block ] && F=
  $S bench qgemm --format ${F}int8,int4-g32,int4-g128,q8_0,q4_0,q4_1 --activations $a --shape 1x4096x4096,64x4096x4096 --backend cpu --json 2>&1 | python3 -c "
import json,sys
t=sys.stdin.read(); i=t.find('[')
for r in json.loads(t[i:]): print('$a', r.get('format'), r['shape'], round(r['median_ms'],3), 'ms', round(r.get('gbps',0),1), 'GB/s', r.get('isa',''))" 2>&1 | tail -20
done
echo "== slim cpu decode from memory (8 matrices)"
$S bench qgemm --format int8,int4-g32,q4_0,q4_1,q8_0 --activations int8-block --shape 1x4096x4096 --matrices 8 --backend cpu --json 2>&1 | python3 -c "
import json,sys
t=sys.stdin.read(); i=t.find('[')
for r in json.loads(t[i:]): print('mem', r.get('format'), round(r['median_ms'],3), 'ms', round(r.get('gbps',0),1), 'GB/s')"
echo "== slim opencl (PoCL)"
$S bench qgemm --format w8a8,int8,int4-g32,int4-g128,q8_0,q4_0,q4_1 --shape 1x4096x4096,64x4096x4096 --backend opencl --runs 5 --warmup 1 --json 2>&1 | python3 -c "
import json,sys
t=sys.stdin.read(); i=t.find('[')
for r in json.loads(t[i:]): print('opencl', r.get('format'), r['shape'], round(r['median_ms'],3), 'ms')"
