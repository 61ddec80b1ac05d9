#!/usr/bin/env bash
# A three-node MariaDB Galera cluster on loopback, for tests: its own datadirs in a temporary folder, never the
# server on 3306. Node N listens for SQL on 127.0.0.1:$((3306+N)) (3307-3309) and for Galera on 4567N (group),
# 4568N (IST) and 4569N (SST, rsync).
#
#   scripts/galera-local.sh start          create the datadirs when missing, bootstrap node 1, join 2 and 3 (SST)
#   scripts/galera-local.sh stop           stop every node (then kill what did not stop), keep the datadirs
#   scripts/galera-local.sh destroy        stop, and remove the folder
#   scripts/galera-local.sh kill N         kill -9 node N
#   scripts/galera-local.sh start-node N   start node N again; after a kill -9 its position comes from
#                                          --wsrep-recover, so that it rejoins by IST rather than a full SST
#   scripts/galera-local.sh isolate N      cut node N off the group (gmcast.isolate=1); it goes non-primary
#   scripts/galera-local.sh rejoin N       let node N back in (gmcast.isolate=0)
#   scripts/galera-local.sh wait-synced N  wait until node N is Synced (wsrep_local_state=4)
#   scripts/galera-local.sh status         each node's wsrep state
#
# GALERA_DIR (default /tmp/galera-local) holds the datadirs, sockets, pids and logs. Requires mariadbd,
# mariadb-install-db, galera-4 (/usr/lib/galera/libgalera_smm.so) and rsync.
set -euo pipefail

DIR="${GALERA_DIR:-/tmp/galera-local}"
PROVIDER="${GALERA_PROVIDER:-/usr/lib/galera/libgalera_smm.so}"
NODES=(1 2 3)
MARIADBD="${MARIADBD:-/usr/sbin/mariadbd}"
# As root the nodes run as mysql: the rsync daemon of an SST run by root drops to nobody, who cannot write the datadir.
if [ "$(id -u)" = 0 ] && id mysql >/dev/null 2>&1; then RUN_AS=mysql; else RUN_AS=$(id -un); fi

sql_port() { echo $((3306 + $1)); }
group_port() { echo $((45670 + $1)); }
cluster_address() {
  local peers=()
  for n in "${NODES[@]}"; do peers+=("127.0.0.1:$(group_port "$n")"); done
  (IFS=,; echo "gcomm://${peers[*]}")
}
client() { mariadb --protocol=tcp -h127.0.0.1 -P"$(sql_port "$1")" -uroot -N -B "${@:2}"; }

write_config() {
  local n=$1 d="$DIR/node$1"
  mkdir -p "$d"
  cat >"$d/my.cnf" <<CNF
[mariadbd]
user=$RUN_AS
datadir=$d/data
socket=$d/mysqld.sock
pid-file=$d/mysqld.pid
log-error=$d/error.log
bind-address=127.0.0.1
port=$(sql_port "$n")
skip-name-resolve
performance_schema=OFF
innodb_buffer_pool_size=32M
innodb_log_file_size=16M
innodb_flush_log_at_trx_commit=2
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
max_connections=200
wsrep_on=ON
wsrep_provider=$PROVIDER
wsrep_cluster_name=corecredit-test
wsrep_cluster_address=$(cluster_address)
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1:$(group_port "$n")
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$(group_port "$n");ist.recv_addr=127.0.0.1:$((45680 + n));gcache.size=64M;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT5S;evs.install_timeout=PT5S"
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$((45690 + n))
wsrep_slave_threads=2
CNF
}

wait_for() {
  local n=$1 what=$2 seconds=${3:-90}
  for _ in $(seq 1 $((seconds * 2))); do
    case $what in
      up) client "$n" -e 'SELECT 1' >/dev/null 2>&1 && return 0 ;;
      synced)
        [ "$(client "$n" -e "SHOW STATUS LIKE 'wsrep_local_state'" 2>/dev/null | cut -f2)" = 4 ] &&
          [ "$(client "$n" -e "SHOW STATUS LIKE 'wsrep_ready'" 2>/dev/null | cut -f2)" = ON ] && return 0 ;;
    esac
    sleep 0.5
  done
  echo "node $n is not $what after ${seconds}s; its log:" >&2
  tail -n 30 "$DIR/node$n/error.log" >&2 || true
  return 1
}

pid_of() { cat "$DIR/node$1/mysqld.pid" 2>/dev/null || true; }
running() { local pid; pid=$(pid_of "$1"); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

launch() {
  local n=$1
  shift
  # Detached, so that the node outlives this script; its output goes to its error log.
  setsid "$MARIADBD" --defaults-file="$DIR/node$n/my.cnf" "$@" </dev/null >>"$DIR/node$n/stdout.log" 2>&1 &
}

init_node() {
  local n=$1
  write_config "$n"
  if [ ! -d "$DIR/node$n/data/mysql" ]; then
    mariadb-install-db --defaults-file="$DIR/node$n/my.cnf" --user="$RUN_AS" --auth-root-authentication-method=normal \
      --skip-test-db >"$DIR/node$n/install.log" 2>&1
  fi
}

recovered_position() {
  local n=$1 log="$DIR/node$n/recover.log"
  touch "$log" && chown "$RUN_AS" "$log"
  "$MARIADBD" --defaults-file="$DIR/node$n/my.cnf" --wsrep-recover --log-error="$log" >/dev/null 2>&1 || true
  sed -n 's/.*WSREP: Recovered position: \(.*\)$/\1/p' "$log" | tail -n 1
}

start_node() {
  local n=$1
  if running "$n"; then echo "node $n is already running"; return 0; fi
  write_config "$n"
  local position
  position=$(recovered_position "$n")
  echo "node $n: starting at recovered position ${position:-none}"
  if [ -n "$position" ]; then launch "$n" --wsrep-start-position="$position"; else launch "$n"; fi
  wait_for "$n" up 120
}

stop_node() {
  local n=$1 pid
  pid=$(pid_of "$n")
  [ -z "$pid" ] && return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
}

case "${1:-}" in
  start)
    mkdir -p "$DIR"
    for n in "${NODES[@]}"; do write_config "$n"; done
    chown -R "$RUN_AS" "$DIR"
    for n in "${NODES[@]}"; do init_node "$n"; done
    chown -R "$RUN_AS" "$DIR"
    if ! running 1; then
      # A fresh bootstrap: node 1 forms the primary component, whatever grastate says.
      sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$DIR/node1/data/grastate.dat" 2>/dev/null || true
      launch 1 --wsrep-new-cluster
    fi
    wait_for 1 synced 60
    for n in 2 3; do running "$n" || launch "$n"; done
    for n in 2 3; do wait_for "$n" synced 120; done
    echo "galera cluster up: 127.0.0.1:3307,3308,3309 ($DIR)"
    ;;
  stop)
    for n in 3 2 1; do stop_node "$n"; done
    ;;
  destroy)
    for n in 3 2 1; do stop_node "$n"; done
    rm -rf "$DIR"
    ;;
  kill)
    pid=$(pid_of "$2")
    [ -n "$pid" ] && kill -9 "$pid"
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    ;;
  start-node) start_node "$2" ;;
  isolate) client "$2" -e "SET GLOBAL wsrep_provider_options='gmcast.isolate=1'" ;;
  rejoin) client "$2" -e "SET GLOBAL wsrep_provider_options='gmcast.isolate=0'" ;;
  wait-synced) wait_for "$2" synced "${3:-120}" ;;
  status)
    for n in "${NODES[@]}"; do
      printf 'node %s (port %s): ' "$n" "$(sql_port "$n")"
      client "$n" -e "SHOW STATUS WHERE Variable_name IN ('wsrep_ready','wsrep_local_state_comment','wsrep_cluster_size','wsrep_cluster_status')" 2>/dev/null |
        tr '\t\n' '= ' || printf 'down'
      echo
    done
    ;;
  *)
    sed -n '2,20p' "$0" >&2
    exit 2
    ;;
esac
