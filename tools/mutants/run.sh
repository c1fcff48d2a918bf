#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make mutants: the mutation check. Each mutant of tools/mutants/list (or
# each one named) is a small breakage of the code that some selftest must
# catch. This applies each to a copy of the tree and builds it (the
# modules, or nitroctl for a mutant of tools/nitroctl), while one VM, booted
# at the start, takes the mutants as they are built: it loads each one's
# build and runs the tests the list names for it (tools/mutants/guest.sh).
# A mutant is "caught" if one of them fails (or its modules do not load, or
# the kernel log shows an oops or a warning), "SURVIVED" if they all pass.
# Prints a table; exits non-zero if a mutant survived, did not apply or did
# not build.
#
#   tools/mutants/run.sh KDIR [NAME...]
#
# MUTANTS_BUILD_ONLY=1: apply and build them, run nothing.
#
# Runs inside the dev root (make mutants). The copy is build/mutants/tree,
# built once unmutated; each mutant is then applied, built (kbuild redoes
# only the modules the file is in or feeds), its build kept in
# build/mutants/out/NAME and the file restored. The VM reads the plan,
# build/mutants/plan, one line per built mutant, until a line "end". The
# verdicts assume the unmutated tree passes the tests (make check).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
kdir=${1:?usage: $0 KDIR [NAME...]}
shift
llvm=${LLVM:--19}
list=$here/list
work=$top/build/mutants
tree=$work/tree
out=$work/out
plan=$work/plan
vmlog=$work/vm.log
nitroctl=$top/tools/nitroctl/target/release/nitroctl

log() { printf 'mutants: %s\n' "$*" >&2; }
start=$(date +%s)

mapfile -t mutants < <(python3 "$here/apply.py" plan "$list" "$@")
[ ${#mutants[@]} -gt 0 ] || exit 1
# Every mutation must apply to the tree as it is now, before anything runs.
python3 "$here/apply.py" check "$list" "$top" "$@" || exit 1
[ -x "$nitroctl" ] || { log "no $nitroctl: run make first"; exit 1; }

rm -rf "$work" && mkdir -p "$tree" "$out"
tar -C "$top" --exclude=./build --exclude=./tools/nitroctl/target --exclude=./tools/nitro-hv/target --exclude=./.git \
	--exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' -cf - . | tar -C "$tree" -xf -
: >"$plan"
: >"$vmlog"

kbuild() { make -C "$kdir" M="$tree" LLVM="$llvm" -j2 modules >"$1" 2>&1; }
# keep_modules DIR: the copy's five modules, into DIR.
keep_modules() {
	local m
	mkdir -p "$1" || return 1
	for m in ctrl sec nvme net; do cp "$tree/drivers/nitro_$m/nitro-$m.ko" "$1/" || return 1; done
	cp "$tree/selftests/nitro_testcard/nitro-testcard.ko" "$1/"
}

# vm FROM: one VM that runs the plan from mutant FROM (empty: the first);
# its output goes to vm.log, its verdicts to the terminal as they come.
vm() {
	"$top/tools/vm.sh" "$kdir" run "$here/guest.sh $plan $1" 2>&1 | tee -a "$vmlog" |
		grep --line-buffered -E '^mutant-(result|restart)' | cut -f 2-
}
# The VM's time limit: queueing for a VM slot, the builds, then 2400 s for
# each test at most (run_test's guard against hangs: a slow test, such as
# net.sh on the debug kernel, must not count as a catch), and boots.
ntests=$(printf '%s\n' "${mutants[@]}" | awk -F '\t' '{ n += split($3, t, " ") } END { print n }')
export NITRO_VM_TIMEOUT=$((2500 * ntests + 5400))

log "building the unmutated copy ($tree)"
kbuild "$work/build.log" || { log "the unmutated copy does not build: $work/build.log"; exit 1; }
keep_modules "$out/unmutated" || exit 1
# nitroctl's dependencies are built already in the tree's target directory:
# from a copy of it, cargo rebuilds only nitroctl itself.
cp -a "$top/tools/nitroctl/target" "$work/cargo"

vm_pid=
# However this ends, the guest is told that nothing more is coming.
trap 'echo end >>"$plan"' EXIT
if [ -z "${MUTANTS_BUILD_ONLY:-}" ]; then
	log "starting the VM (guest output: $vmlog)"
	vm "" &
	vm_pid=$!
fi

declare -A verdict
names=()
# In file order, so that consecutive mutants of one module rebuild only it.
mapfile -t mutants < <(printf '%s\n' "${mutants[@]}" | sort -s -t $'\t' -k 2,2)
for entry in "${mutants[@]}"; do
	IFS=$'\t' read -r name file tests <<<"$entry"
	names+=("$name")
	t0=$(date +%s)
	cp "$tree/$file" "$work/orig"
	mkdir -p "$out/$name"
	if ! python3 "$here/apply.py" apply "$list" "$name" "$tree" 2>"$out/$name/build.log"; then
		verdict[$name]="NOT APPLIED ($(tail -1 "$out/$name/build.log"))"
		continue
	fi
	case "$file" in
	tools/nitroctl/*)
		(cd "$tree/tools/nitroctl" && CARGO_TARGET_DIR="$work/cargo" \
			cargo build --release --locked --quiet) >"$out/$name/build.log" 2>&1 &&
			cp "$work/cargo/release/nitroctl" "$out/$name/nitroctl"
		built=$? ko=$out/unmutated ctl=$out/$name/nitroctl
		;;
	*)
		kbuild "$out/$name/build.log" && keep_modules "$out/$name"
		built=$? ko=$out/$name ctl=$nitroctl
		;;
	esac
	# Restored with a new time stamp: the next build redoes this module.
	cp "$work/orig" "$tree/$file"
	if [ $built != 0 ]; then
		verdict[$name]="NOT BUILT (build/mutants/out/$name/build.log)"
		continue
	fi
	# One write of a whole line: the guest takes only complete lines.
	printf '%s\t%s\t%s\t%s\n' "$name" "$ko" "$ctl" "$tests" >>"$plan"
	log "built $name in $(($(date +%s) - t0)) s"
done
echo end >>"$plan"
built_at=$(date +%s)
log "all built in $((built_at - start)) s"
if [ -n "${MUTANTS_BUILD_ONLY:-}" ]; then
	for name in "${names[@]}"; do printf '%-26s %s\n' "$name" "${verdict[$name]:-built}"; done
	exit 0
fi
wait "$vm_pid"

# The guest ends early only if it died (a mutant that crashed or hung the
# kernel: caught) or could not unload a mutant's modules (that mutant runs
# again, once): then another VM goes on from there.
declare -A restarts
starts_before=0
while :; do
	starts=$(grep -c '^mutant-start' "$vmlog")
	if [ "$starts" = "$starts_before" ]; then
		log "the VM ran no mutant: giving up (see $vmlog)"
		break
	fi
	starts_before=$starts
	while IFS=$'\t' read -r tag name v; do
		case "$tag" in
		mutant-result) verdict[$name]=$v ;;
		mutant-restart) restarts[$name]=$((${restarts[$name]:-0} + 1)) ;;
		esac
	done < <(grep -E '^mutant-(result|restart)' "$vmlog")
	IFS=$'\t' read -r tag last _ < <(grep -E '^mutant-(start|result|restart)' "$vmlog" | tail -1)
	case "$tag" in
	mutant-start) verdict[$last]="caught: the guest died or hung during its tests" ;;
	mutant-restart)
		[ "${restarts[$last]}" -ge 2 ] &&
			verdict[$last]="ERROR (the modules of the one before would not unload, twice)"
		;;
	esac
	todo=
	while IFS=$'\t' read -r name _; do
		[ "$name" != end ] && [ -z "${verdict[$name]:-}" ] && { todo=$name; break; }
	done <"$plan"
	[ -n "$todo" ] || break
	log "another VM, from mutant $todo"
	vm "$todo"
done
end=$(date +%s)

caught=0 bad=0
printf '\n%-26s %s\n' mutant verdict
for name in "${names[@]}"; do
	v=${verdict[$name]:-ERROR (no result)}
	printf '%-26s %s\n' "$name" "$v"
	case "$v" in caught*) caught=$((caught + 1)) ;; *) bad=$((bad + 1)) ;; esac
done
printf '\n%d mutants: %d caught, %d not (survived, not applied, not built or no result); builds done after %d s, total %d s\n' \
	${#names[@]} "$caught" "$bad" $((built_at - start)) $((end - start))
[ "$bad" = 0 ]
