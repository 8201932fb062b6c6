#!/usr/bin/env bash
# npm run bench:store — the cost of durable persistence (docs/persistence.md):
#   1. QoS 1 fan-in (and QoS 1 pairs) throughput and p99 latency of Midge with the memory, SQLite and Redis stores,
#      and of Mosquitto with persistence on as the yardstick, with the independent load generator of ../shared/bench
#      (mqttload + compare.sh). The generator's clients use clean sessions: each PUBACK still waits for the commit of
#      the batch of its turn (session records, ...), but their messages are not written to the store.
#   2. bench/store-durable.ts: QoS 1 fan-in to a PERSISTENT subscriber (every message is written to the store,
#      then deleted when acknowledged), per store, driven from Node.
#   3. bench/store-restore.ts: time to restore 100k retained messages and 10k sessions at startup, per store.
#
#   npm run bench:store                # everything (~3 min)
#   npm run bench:store -- -r 2        # two interleaved rounds of part 1, to see the noise
#   BENCH_STORE_PARTS=1 npm run bench:store   # only part 1 (1, 2, 3 or any combination such as 23)
#   BENCH_NO_BUILD=1 npm run bench:store      # do not rebuild dist/ first
#
# Mosquitto: `persistence true` with autosave_interval 1 writes its in-memory state to disk once a second (and at
# exit): it acknowledges before anything is on disk, so it is a yardstick for speed, not for the same guarantee.
# Redis: a redis-server started here with appendonly yes + appendfsync everysec (what Redis writes before replying
# survives a crash of the broker or of Redis; a power loss may take the last second).
#
# Needs: mosquitto, redis-server (Debian packages), gcc.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KIT="${MIDGE_BENCH_KIT:-$ROOT/../shared/bench}"
[ -x "$KIT/compare.sh" ] || { echo "bench kit not found at $KIT (set MIDGE_BENCH_KIT)" >&2; exit 2; }
command -v mosquitto >/dev/null || { echo "mosquitto is not installed: apt-get install -y mosquitto" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "redis-server is not installed: apt-get install -y redis-server" >&2; exit 2; }
command -v gcc >/dev/null || { echo "gcc is not installed" >&2; exit 2; }
PARTS="${BENCH_STORE_PARTS:-123}"

# ../shared is read-only in CI: build the generator into a temporary folder (as bench/broker.sh does).
export MQTTLOAD="${MQTTLOAD:-${TMPDIR:-/tmp}/midge-mqttload/mqttload}"
if [ ! -x "$MQTTLOAD" ] || [ "$KIT/mqttload.c" -nt "$MQTTLOAD" ]; then
  mkdir -p "$(dirname "$MQTTLOAD")"
  gcc -O2 -Wall -o "$MQTTLOAD" "$KIT/mqttload.c" -lm
fi

# BENCH_NO_BUILD=1: use dist/ as it is (e.g. while an unrelated part of the tree does not compile).
[ -n "${BENCH_NO_BUILD:-}" ] || (cd "$ROOT" && npm run -s build)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/midge-bench-store-XXXXXX")"
REDIS_PORT=28849
REDIS_PID=""
cleanup() {
  if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
    kill -TERM "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/redis" "$WORK/mosquitto" "$WORK/sqlite"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --save '' --appendonly yes \
  --appendfsync everysec --daemonize no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 100); do
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  command -v redis-cli >/dev/null || { sleep 0.5; break; }
  sleep 0.05
done
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

cat >"$WORK/mosquitto.conf" <<EOF
listener 28840 127.0.0.1
protocol mqtt
allow_anonymous true
max_connections -1
set_tcp_nodelay true
max_queued_messages 1000000
max_queued_bytes 0
persistence true
persistence_location $WORK/mosquitto/
autosave_interval 1
log_dest stderr
log_type error
log_type warning
connection_messages false
EOF

if [[ "$PARTS" == *1* ]]; then
  cat >"$WORK/scenarios" <<EOF
fanin_q1   -s fanin -q 1 -d 6
pairs_q1   -s pairs -q 1 -r 20 -d 5
EOF
  midge="node $ROOT/bin/midge.js broker --host 127.0.0.1 --log-level warn --max-queued-messages 1000000 --sys-interval 0"
  echo "== part 1: QoS 1 throughput and latency (mqttload, clean sessions) =="
  "$KIT/compare.sh" -s "$WORK/scenarios" -o "$WORK/compare" -n mosquitto-persist,midge-memory,midge-sqlite,midge-redis \
    "$@" \
    "mosquitto -c $WORK/mosquitto.conf" 28840 \
    "$midge --port 28841 --store memory" 28841 \
    "$midge --port 28842 --store sqlite --data-dir $WORK/sqlite" 28842 \
    "$midge --port 28843 --store redis --redis $REDIS_URL" 28843
fi

if [[ "$PARTS" == *2* ]]; then
  echo
  echo "== part 2: QoS 1 fan-in to a persistent subscriber (every message stored) =="
  redis-cli -p "$REDIS_PORT" flushall >/dev/null 2>&1 || true
  (cd "$ROOT" && node --import tsx bench/store-durable.ts --redis "$REDIS_URL" --dir "$WORK/durable")
fi

if [[ "$PARTS" == *3* ]]; then
  echo
  echo "== part 3: startup restore =="
  redis-cli -p "$REDIS_PORT" flushall >/dev/null 2>&1 || true
  (cd "$ROOT" && node --import tsx bench/store-restore.ts --redis "$REDIS_URL" --dir "$WORK/restore")
fi
