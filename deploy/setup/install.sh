#!/usr/bin/env bash
# Prepare a Debian machine to run Gantry nodes: containerd, runc, the CNI
# plugins, iptables and iproute2 installed; IP forwarding on; containerd
# running and answering. Idempotent: on a ready machine it changes nothing.
#
# containerd is started by systemd where systemd runs, else in a Unix session
# and process group of its own (setsid), so it outlives the shell that ran
# this script: Ctrl-C on `go tool task up` stops the cluster, not containerd.
#
# Run as root: bash deploy/setup/install.sh [options]
#
#   --containerd-address SOCK  containerd's socket (default /run/containerd/containerd.sock)
#   --containerd-root DIR      its root directory (default /var/lib/containerd)
#   --containerd-state DIR     its state directory (default /run/containerd)
#   --containerd-log FILE      its log when this script starts it (default /var/log/containerd.log)
#
# Any of the first three starts a private containerd on those paths (never
# through systemd, with a configuration of its own and without the CRI
# plugin) and leaves the machine's own alone; its pid goes to
# gantry-containerd.pid in its state directory. Tests use that.
set -euo pipefail

readonly PACKAGES=(containerd runc containernetworking-plugins iptables iproute2)
readonly CNI_BRIDGE=/usr/lib/cni/bridge
readonly WAIT_SECONDS=30

log() { echo "install: $*"; }
die() {
	echo "install: error: $*" >&2
	exit 1
}
usage() {
	sed -n '/^# Run as root/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

CONTAINERD_ADDRESS=/run/containerd/containerd.sock
CONTAINERD_ROOT=/var/lib/containerd
CONTAINERD_STATE=/run/containerd
CONTAINERD_LOG=/var/log/containerd.log
PRIVATE=false
while (($# > 0)); do
	case $1 in
	--containerd-address | --containerd-root | --containerd-state | --containerd-log)
		(($# >= 2)) && [[ -n $2 ]] || die "$1 needs a value"
		case $1 in
		--containerd-address) CONTAINERD_ADDRESS=$2 PRIVATE=true ;;
		--containerd-root) CONTAINERD_ROOT=$2 PRIVATE=true ;;
		--containerd-state) CONTAINERD_STATE=$2 PRIVATE=true ;;
		--containerd-log) CONTAINERD_LOG=$2 ;;
		esac
		shift 2
		;;
	-h | --help) usage ;;
	*)
		echo "install: error: unknown option '$1'" >&2
		usage
		;;
	esac
done
readonly CONTAINERD_ADDRESS CONTAINERD_ROOT CONTAINERD_STATE CONTAINERD_LOG PRIVATE
readonly PIDFILE=$CONTAINERD_STATE/gantry-containerd.pid

if [[ $(id -u) -ne 0 ]]; then
	die "must run as root (try: sudo bash $0)"
fi

# missing_tools prints the name of each required tool that is not installed.
missing_tools() {
	local cmd
	for cmd in containerd ctr runc iptables ip setsid; do
		command -v "$cmd" >/dev/null 2>&1 || echo "$cmd"
	done
	[[ -x $CNI_BRIDGE ]] || echo "$CNI_BRIDGE"
}

install_packages() {
	local missing
	missing=$(missing_tools | tr '\n' ' ')
	if [[ -z $missing ]]; then
		log "packages: containerd, runc, CNI bridge, iptables, iproute2 already installed"
		return
	fi
	command -v apt-get >/dev/null 2>&1 || die "missing ${missing}and apt-get is not available"
	log "packages: missing ${missing}- installing ${PACKAGES[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y "${PACKAGES[@]}"
	missing=$(missing_tools | tr '\n' ' ')
	[[ -z $missing ]] || die "still missing after apt-get install: $missing"
}

enable_ip_forward() {
	if [[ $(cat /proc/sys/net/ipv4/ip_forward) == 1 ]]; then
		log "ip forwarding: already on"
		return
	fi
	sysctl -w net.ipv4.ip_forward=1 >/dev/null || die "could not enable net.ipv4.ip_forward"
	log "ip forwarding: enabled"
}

load_br_netfilter() {
	if [[ -d /sys/module/br_netfilter ]]; then
		log "br_netfilter: already loaded"
	elif command -v modprobe >/dev/null 2>&1 && modprobe br_netfilter 2>/dev/null; then
		log "br_netfilter: loaded"
	else
		log "br_netfilter: not available, skipped"
	fi
}

containerd_answers() {
	timeout 5 ctr --address "$CONTAINERD_ADDRESS" version >/dev/null 2>&1
}

# containerd_process_running: a private containerd is known by its pid file,
# the machine's by any process named containerd.
containerd_process_running() {
	if $PRIVATE; then
		[[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
		return
	fi
	local comm
	for comm in /proc/[0-9]*/comm; do
		[[ $(cat "$comm" 2>/dev/null) == containerd ]] && return 0
	done
	return 1
}

# private_config writes a private containerd's configuration: its own paths,
# and no CRI plugin (which would share the machine's CNI and ports).
private_config() {
	local config=$CONTAINERD_STATE/gantry-containerd.toml
	cat >"$config" <<-TOML
		version = 2
		root = "$CONTAINERD_ROOT"
		state = "$CONTAINERD_STATE"
		disabled_plugins = ["io.containerd.grpc.v1.cri"]

		[grpc]
		  address = "$CONTAINERD_ADDRESS"
	TOML
	echo "$config"
}

# launch_containerd starts containerd detached from this script: a session
# and process group of its own (setsid -f), no terminal, stdin closed, so a
# signal to the group that ran this script does not reach it.
launch_containerd() {
	local args=()
	mkdir -p "$(dirname "$CONTAINERD_LOG")" "$CONTAINERD_STATE"
	if $PRIVATE; then
		mkdir -p "$CONTAINERD_ROOT" "$(dirname "$CONTAINERD_ADDRESS")"
		args=(--config "$(private_config)")
	fi
	# The wrapper writes its pid and execs containerd, which keeps it.
	setsid -f sh -c 'echo $$ >"$0"; exec containerd "$@"' "$PIDFILE" "${args[@]}" \
		</dev/null >>"$CONTAINERD_LOG" 2>&1
}

start_containerd() {
	if containerd_answers; then
		log "containerd: already running"
		return
	fi
	if ! $PRIVATE && [[ $(cat /proc/1/comm 2>/dev/null) == systemd ]]; then
		log "containerd: not answering, starting it with systemctl"
		systemctl enable containerd
		systemctl restart containerd
	elif containerd_process_running; then
		log "containerd: process running but not answering yet, waiting for it"
	else
		log "containerd: not answering, starting it in a session of its own (socket $CONTAINERD_ADDRESS, log $CONTAINERD_LOG)"
		launch_containerd
	fi

	local deadline=$((SECONDS + WAIT_SECONDS))
	until containerd_answers; do
		if ((SECONDS >= deadline)); then
			[[ -f $CONTAINERD_LOG ]] && tail -n 20 "$CONTAINERD_LOG" >&2
			die "containerd did not answer 'ctr --address $CONTAINERD_ADDRESS version' within ${WAIT_SECONDS}s"
		fi
		sleep 1
	done
	log "containerd: running"
}

install_packages
enable_ip_forward
load_br_netfilter
start_containerd
log "done"
