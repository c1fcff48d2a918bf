# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Helpers of the nitro_hv selftests (sourced after ../lib.sh): nitroctl with
# a timeout, JSON fields, results with diagnostics (each file defines
# hv_diag: the end of its hypervisors' logs), instance launch and waits.

# Every command that could hang runs under a timeout.
nctl() { timeout 120 "$NITROCTL" "$@"; }

# jx EXPR: evaluates the Python expression EXPR over the JSON on stdin (d);
# prints the value (null, true, false for None, True, False; null if EXPR
# fails).
jx() {
	python3 -S -c 'import json, sys
try:
    d = json.load(sys.stdin)
    v = eval(sys.argv[1])
except Exception:
    v = None
print({None: "null", True: "true", False: "false"}.get(v, v) if isinstance(v, (bool, type(None))) else v)' "$1"
}

# ifield ID KEY: a field of nitroctl instance describe --json.
ifield() { nctl instance describe "$1" --json 2>/dev/null | jx "d[\"$2\"]"; }

# check COND DESCRIPTION [SAW]: one result; when it fails, what the test saw
# and the end of the hypervisor's log, as diagnostics.
check() {
	local _before=$ktap_fail
	ok "$1" "$2"
	[ "$ktap_fail" = "$_before" ] && return 0
	[ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# saw: /'
	hv_diag
	return 1
}

# irun ARGS...: nitroctl instance run ARGS; prints the id.
irun() {
	local id
	id=$(nctl instance run "$@" | awk '/^i-[0-9a-f]{17}$/ { print $1 }')
	[ -n "$id" ] || return 1
	echo "$id"
}

# await FILE [SECONDS]: waits until FILE exists (default 60 s). A file
# below /proc/PID of a process that is not there (or of no pid) never
# comes: that fails at once.
await() {
	local i p=${1#/proc/}
	p=${p%%/*}
	for ((i = 0; i < ${2:-60} * 5; i++)); do
		[ -e "$1" ] && return 0
		if [[ $1 == /proc/* ]]; then [[ $p =~ ^[0-9]+$ ]] && [ -d "/proc/$p" ] || return 1; fi
		sleep 0.2
	done
	return 1
}

# alive PID...: the pids among PID... that are processes (not zombies);
# shell builtins only (a stop leaves hundreds to look at).
alive() {
	local p st
	for p; do
		{ read -r st <"/proc/$p/stat"; } 2>/dev/null || continue
		st=${st##*) }
		[ "${st%% *}" = Z ] || echo "$p"
	done
}
