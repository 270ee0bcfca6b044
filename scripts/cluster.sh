# Shell helpers to run a throwaway Redis Cluster on loopback (sourced by scripts/demo and benchmarks).
# Every process started is recorded by PID in $CLUSTER_PIDS; cluster_stop kills exactly those.
CLUSTER_PIDS=""

# node_start DIR PORT: one cluster-enabled redis-server in the background (its PID in $!), files in DIR.
node_start() {
    redis-server --port "$2" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file "nodes-$2.conf" \
        --cluster-node-timeout 2000 --dir "$1" --dbfilename "dump-$2.rdb" --save '' --appendonly no \
        --logfile "$1/redis-$2.log" --daemonize no >/dev/null 2>&1 &
}

# cluster_start DIR BASE_PORT MASTERS REPLICAS_PER_MASTER
cluster_start() {
    dir=$1 base=$2 masters=$3 reps=$4
    n=$((masters * (reps + 1)))
    mkdir -p "$dir"
    addrs=""
    i=0
    while [ $i -lt $n ]; do
        port=$((base + i))
        node_start "$dir" $port
        CLUSTER_PIDS="$CLUSTER_PIDS $!"
        addrs="$addrs 127.0.0.1:$port"
        i=$((i + 1))
    done
    for a in $addrs; do
        p=${a#*:}
        t=0
        until redis-cli -p "$p" ping >/dev/null 2>&1; do
            t=$((t + 1)); [ $t -gt 100 ] && { echo "redis-server on port $p did not start" >&2; return 1; }
            sleep 0.1
        done
    done
    redis-cli --cluster create $addrs --cluster-replicas "$reps" --cluster-yes >"$dir/create.log" 2>&1 ||
        { cat "$dir/create.log" >&2; return 1; }
    t=0
    until [ "$(redis-cli -p "$base" cluster info 2>/dev/null | tr -d '\r' | grep cluster_state)" = "cluster_state:ok" ]; do
        t=$((t + 1)); [ $t -gt 200 ] && { echo "cluster did not reach state ok" >&2; return 1; }
        sleep 0.1
    done
}

cluster_stop() {
    for p in $CLUSTER_PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $CLUSTER_PIDS; do wait "$p" 2>/dev/null || true; done
    CLUSTER_PIDS=""
}
