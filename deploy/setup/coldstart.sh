#!/usr/bin/env bash
# bench:coldstart: the README's first command, `go tool task up`, on a
# machine that has Go and nothing else, timed until the demo pods run.
#
# It makes the machine fresh first: stops containerd, purges containerd, runc
# and the CNI plugins with their downloaded packages and containerd's state
# (/var/lib/containerd, /run/containerd), and points the Go module and build
# caches at empty temporary directories. Then, in a copy of this work tree
# (tracked and untracked files, not bin/ or .task/), it runs `go tool task up`
# in a process group of its own, prints each phase as it is reached, and ends
# the cluster (the demo app deleted, then Ctrl-C's signal) once the demo
# Deployment is ready.
# containerd stays installed and running afterwards.
#
# Run as root: bash deploy/setup/coldstart.sh
# Environment: GANTRY_COLDSTART_PORT (NATS port, default 4299),
# GANTRY_COLDSTART_KEEP=1 keeps the temporary directory.
# Last line: COLDSTART seconds=<n>
set -euo pipefail
cd "$(dirname "$0")/../.."

readonly PORT=${GANTRY_COLDSTART_PORT:-4299}
readonly LIMIT_SECONDS=900

die() {
	echo "coldstart: error: $*" >&2
	exit 1
}
log() { echo "coldstart: $*"; }

[[ $(id -u) -eq 0 ]] || die "must run as root"
command -v go >/dev/null || die "go is not on PATH"
if pgrep -f 'containerd-shim.* -address' >/dev/null; then
	die "containers are running (containerd-shim processes): stop them first, this benchmark removes containerd"
fi

work=$(mktemp -d /tmp/gantry-coldstart.XXXXXX)
up_pid=
cleanup() {
	if [[ -n $up_pid ]] && kill -0 "$up_pid" 2>/dev/null; then
		kill -INT -- "-$up_pid" 2>/dev/null || true
		wait "$up_pid" 2>/dev/null || true
	fi
	if [[ ${GANTRY_COLDSTART_KEEP:-} == 1 ]]; then
		log "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

log "making the machine fresh: containerd, runc and the CNI plugins removed"
if [[ $(cat /proc/1/comm 2>/dev/null) == systemd ]]; then
	systemctl stop containerd 2>/dev/null || true
fi
pkill -x containerd 2>/dev/null || true
for _ in $(seq 1 100); do
	pgrep -x containerd >/dev/null || break
	sleep 0.1
done
pgrep -x containerd >/dev/null && die "containerd did not stop"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q containerd runc containernetworking-plugins >"$work/purge.log" 2>&1 ||
	die "apt-get purge failed: $(tail -n 5 "$work/purge.log")"
apt-get clean
rm -rf /var/lib/containerd /run/containerd

log "copying the work tree to $work/repo"
mkdir -p "$work/repo"
git ls-files -z --cached --others --exclude-standard | grep -zv -e '^bin/' -e '^\.task/' |
	tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$work/repo"
[[ -f $work/repo/Taskfile.yml ]] || die "copy of the work tree failed"

export GOMODCACHE=$work/gomod GOCACHE=$work/gocache GOFLAGS=-modcacherw
export GANTRY_DATA=$work/data GANTRY_LISTEN=127.0.0.1:$PORT
nats=nats://127.0.0.1:$PORT

start=$(date +%s%N)
elapsed_ms() { echo $((($(date +%s%N) - start) / 1000000)); }
seconds() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }
log "running 'go tool task up' (log: $work/up.log)"
(cd "$work/repo" && exec setsid go tool task up) >"$work/up.log" 2>&1 &
up_pid=$!

# Phases, as the log and the cluster show them.
phases=("task runner built:task: \[" "packages ready:install: done" "demo image imported:imported gantry.local" "control plane ready:control plane ready")
seen=()
ready=false
while :; do
	now=$(elapsed_ms)
	for i in "${!phases[@]}"; do
		[[ -n ${seen[$i]:-} ]] && continue
		if grep -q -- "${phases[$i]#*:}" "$work/up.log" 2>/dev/null; then
			seen[i]=1
			printf 'coldstart: %6s s  %s\n' "$(seconds "$now")" "${phases[$i]%%:*}"
		fi
	done
	if "$work/repo/bin/gantry" get deployments --nats "$nats" 2>/dev/null |
		awk '$1 == "hello" { split($2, r, "/"); if (r[1] > 0 && r[1] == r[2]) ok = 1 } END { exit !ok }'; then
		ready=true
		break
	fi
	kill -0 "$up_pid" 2>/dev/null || break
	((now > LIMIT_SECONDS * 1000)) && break
	sleep 0.5
done
total=$(elapsed_ms)
if ! $ready; then
	tail -n 40 "$work/up.log" >&2
	die "the demo pods were not running after $(seconds "$total") s"
fi
printf 'coldstart: %6s s  demo pods Running\n' "$(seconds "$total")"
"$work/repo/bin/gantry" get pods --nats "$nats" || true

# The cluster's data goes with the temporary directory: remove its pods
# first, or containerd would keep running them with no agent to adopt them.
"$work/repo/bin/gantry" delete -f deploy/examples/hello.yaml --nats "$nats" ||
	log "warning: could not delete the demo app; its containers may stay in containerd namespace gantry"
kill -INT -- "-$up_pid"
wait "$up_pid" 2>/dev/null || true
up_pid=
if timeout 5 ctr version >/dev/null 2>&1; then
	log "containerd still running after Ctrl-C on the cluster"
else
	log "warning: containerd does not answer after the cluster stopped"
fi
echo "COLDSTART seconds=$(((total + 500) / 1000))"
