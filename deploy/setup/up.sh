#!/usr/bin/env bash
# Runs `gantry up` in the foreground of this script, waits for the node to be
# Ready, applies the demo app, and prints the tour. Ctrl-C stops the cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${GANTRY_DATA:-/var/lib/gantry}"
listen="${GANTRY_LISTEN:-127.0.0.1:4222}"
export GANTRY_NATS="nats://${listen}"

bin/gantry up --data-dir "$data" --listen "$listen" &
pid=$!
# Ctrl-C reaches gantry up itself (same process group), so on INT this only
# waits: a second signal would make gantry up stop at once. A clean stop is a
# clean exit of this script, not a failed task.
trap 'wait "$pid"; exit $?' INT
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit $?' TERM

deadline=$((SECONDS + 120))
until bin/gantry get nodes 2>/dev/null | grep -q ' Ready '; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "gantry up exited; see the log above" >&2
    exit 1
  fi
  if (( SECONDS > deadline )); then
    echo "the node did not become Ready within 120s" >&2
    exit 1
  fi
  sleep 0.5
done

bin/gantry apply -f deploy/examples/hello.yaml
cat <<TOUR

Gantry is up (NATS at $GANTRY_NATS). In another shell, as root:

  export GANTRY_NATS=$GANTRY_NATS PATH=\$PWD/bin:\$PATH
  gantry get pods -o wide
  curl http://<pod-ip>:8080/
  gantry logs <pod>
  gantry events
  gantry delete -f deploy/examples/hello.yaml

Ctrl-C here stops the cluster; the log stays in $data.
TOUR
wait "$pid"
