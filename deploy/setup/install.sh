#!/usr/bin/env bash
# Prepare a Debian machine to run Gantry nodes: containerd, runc, the CNI
# plugins, iptables and iproute2 installed; IP forwarding on; containerd
# running and answering. Idempotent: on a ready machine it changes nothing.
#
# Run as root: bash deploy/setup/install.sh
set -euo pipefail

readonly PACKAGES=(containerd runc containernetworking-plugins iptables iproute2)
readonly CNI_BRIDGE=/usr/lib/cni/bridge
readonly CONTAINERD_LOG=/var/log/containerd.log
readonly WAIT_SECONDS=30

log() { echo "install: $*"; }
die() {
	echo "install: error: $*" >&2
	exit 1
}

if [[ $(id -u) -ne 0 ]]; then
	die "must run as root (try: sudo bash $0)"
fi

# missing_tools prints the name of each required tool that is not installed.
missing_tools() {
	local cmd
	for cmd in containerd ctr runc iptables ip; do
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
	timeout 5 ctr version >/dev/null 2>&1
}

containerd_process_running() {
	local comm
	for comm in /proc/[0-9]*/comm; do
		[[ $(cat "$comm" 2>/dev/null) == containerd ]] && return 0
	done
	return 1
}

start_containerd() {
	if containerd_answers; then
		log "containerd: already running"
		return
	fi
	if [[ $(cat /proc/1/comm 2>/dev/null) == systemd ]]; then
		log "containerd: not answering, starting it with systemctl"
		systemctl enable containerd
		systemctl restart containerd
	elif containerd_process_running; then
		log "containerd: process running but not answering yet, waiting for it"
	else
		log "containerd: not answering, starting it in the background (log: $CONTAINERD_LOG)"
		nohup containerd </dev/null >"$CONTAINERD_LOG" 2>&1 &
	fi

	local deadline=$((SECONDS + WAIT_SECONDS))
	until containerd_answers; do
		if ((SECONDS >= deadline)); then
			[[ -f $CONTAINERD_LOG ]] && tail -n 20 "$CONTAINERD_LOG" >&2
			die "containerd did not answer 'ctr version' within ${WAIT_SECONDS}s"
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
