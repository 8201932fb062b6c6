#!/usr/bin/env bash
# npm run bench:broker — Midge against Mosquitto and Aedes on this machine, in one run, with the independent
# load generator in ../shared/bench (mqttload + compare.sh). Ratios in the table are relative to the first
# broker, Mosquitto.
#
#   npm run bench:broker                 # default scenario list (~5 min for the three brokers)
#   npm run bench:broker -- -s quick     # ../shared/bench/scenarios.quick
#   npm run bench:broker -- -r 2         # two interleaved rounds, to see the noise
#   BENCH_V5=1 npm run bench:broker      # MQTT 5 (Aedes is left out: it does not speak MQTT 5)
#   npm run bench:broker -- --floor      # the conns scenario only, with a bare Node.js server answering CONNACK
#                                        # (bench/node-floor.mjs): what Node itself costs per connection
#
# Needs: mosquitto (Debian package), gcc; Aedes comes from this project's devDependencies.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KIT="${MIDGE_BENCH_KIT:-$ROOT/../shared/bench}"
[ -x "$KIT/compare.sh" ] || { echo "bench kit not found at $KIT (set MIDGE_BENCH_KIT)" >&2; exit 2; }
command -v mosquitto >/dev/null || { echo "mosquitto is not installed: apt-get install -y mosquitto" >&2; exit 2; }
command -v gcc >/dev/null || { echo "gcc is not installed" >&2; exit 2; }

scen="$KIT/scenarios.default"
args=()
floor=
while (($#)); do
  case "$1" in
    --floor) floor=1 ;;
    -s) shift; case "$1" in quick|default|extended) scen="$KIT/scenarios.$1" ;; *) scen="$1" ;; esac ;;
    *) args+=("$1") ;;
  esac
  shift
done

# ../shared is read-only in CI: build the generator into a temporary folder.
export MQTTLOAD="${MQTTLOAD:-${TMPDIR:-/tmp}/midge-mqttload/mqttload}"
if [ ! -x "$MQTTLOAD" ] || [ "$KIT/mqttload.c" -nt "$MQTTLOAD" ]; then
  mkdir -p "$(dirname "$MQTTLOAD")"
  gcc -O2 -Wall -o "$MQTTLOAD" "$KIT/mqttload.c" -lm
fi

(cd "$ROOT" && npm run -s build)

# bin/midge.js is run as the `midge` command is (its shebang passes Node's --max-semi-space-size=4: docs/broker.md).
# Same queue bound as mosquitto-bench.conf (max_queued_messages 1000000), so neither broker drops by policy; no
# durable store, as Mosquitto runs with persistence false (and the default SQLite file would carry retained messages
# from one run into the next, in the kit folder).
midge="$ROOT/bin/midge.js broker --host 127.0.0.1 --port 28833 --log-level warn --max-queued-messages 1000000 --store memory"
mosq="mosquitto -c $KIT/mosquitto-bench.conf"
aedes="AEDES_MODULES=$ROOT node $KIT/aedes-server.mjs 28831"

if [ -n "$floor" ]; then
  list="$(mktemp "${TMPDIR:-/tmp}/midge-floor.XXXXXX")"
  grep -E '^conns' "$scen" >"$list"
  exec "$KIT/compare.sh" -s "$list" -n mosquitto,midge,node-floor "${args[@]}" "$mosq" 28830 "$midge" 28833 \
    "node $ROOT/bench/node-floor.mjs 28834" 28834
fi
if [ -n "${BENCH_V5:-}" ]; then
  exec "$KIT/compare.sh" -s "$scen" -x '-V 5' -n mosquitto,midge "${args[@]}" "$mosq" 28830 "$midge" 28833
fi
exec "$KIT/compare.sh" -s "$scen" -n mosquitto,midge,aedes "${args[@]}" "$mosq" 28830 "$midge" 28833 "$aedes" 28831
