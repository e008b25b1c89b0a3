#!/bin/bash
# ab.sh REPS DUR NAME=BIN ... : interleaved pp10 Unix same-core runs; prints srv_us_per_req per run, then medians
reps=$1; dur=$2; shift 2
declare -A res
for r in $(seq $reps); do
  for spec in "$@"; do
    name=${spec%%=*}; bin=${spec#*=}
    sock=/tmp/ab-$name.sock; rm -f $sock
    taskset -c 0 $bin --unix $sock > /tmp/ab-$name.out 2>&1 &
    P=$!
    for i in $(seq 200); do grep -qx ready /tmp/ab-$name.out 2>/dev/null && break; sleep 0.05; done
    v=$(taskset -c 0 /tmp/pp10/loadgen --unix $sock --mode pingpong --conns 10 --size 64 --duration $dur --warmup 1 --server-pid $P | grep -o "srv_us_per_req=[0-9.]*" | cut -d= -f2)
    kill -TERM $P; wait $P 2>/dev/null
    res[$name]="${res[$name]} $v"
    echo "rep $r $name $v"
  done
done
for spec in "$@"; do name=${spec%%=*}; echo "$name: ${res[$name]} median $(echo ${res[$name]} | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')"; done
