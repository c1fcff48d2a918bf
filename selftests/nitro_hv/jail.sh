#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# jail: what one instance is, as nitro-hv builds it (Documentation/
# instances.rst, "What an instance is here"). A nitro.small instance runs a
# script image that writes what it sees to its console (read with nitroctl
# instance console), then serves as an agent: it runs the scripts the test
# drops into its tmpfs (through /proc/<pid>/root/tmp/agent, as root on the
# host) as the instance's own user, in its namespaces and cgroup. The host
# side is read from /proc/<pid> and /sys/fs/cgroup/nitro/<id>.
#
# Its first process is PID 1 of its own PID namespace and sees only its own
# processes; its hostname is its id; its mount, UTS, IPC, network, PID and
# cgroup namespaces are its own (only lo, no underlay socket); its uid and gid
# are 20000 + its slot, with no capabilities and no_new_privs; / is a tmpfs
# owned by root, 0755; /usr is the host's, read-only (EROFS); /tmp and $HOME
# are writable; /dev has the standard character devices only; it cannot
# mount, make device nodes or reach /dev/nitro_ctrl; its cgroup has the
# type's cpu.max, memory.max, memory.swap.max and pids.max, and it sees only
# that cgroup; the controller reads its metrics from the cgroup files START
# handed over. A memory hog is OOM-killed inside its cgroup (the instance and
# the host go on); a fork bomb stops at pids.max. Stop sends SIGTERM to its
# init, waits out the grace period, then kills every process of its cgroup
# and removes the cgroup; the console keeps the output; start runs the image
# again on a fresh root. A launch that cannot exec is launch-failed (ENOENT)
# with nothing left behind, and instance run cleans up after it.
#
# The memory hog makes the kernel print a memcg OOM report, which holds a
# stack dump ("Call Trace:"): the last check filters exactly those reports
# (memcg_oom_filter) before looking for anything bad in the log, and
# selftests/run.sh must do the same.
#
# The conditions given to check are strings ok evaluates later (SC2016), and
# the variables they use are set for them (SC2034).
# shellcheck disable=SC2016,SC2034
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

ktap_header 24
if [ ! -x "$NITRO_HV" ] || [ ! -x "$NITROCTL" ]; then
	echo "# nitro-hv ($NITRO_HV) or nitroctl ($NITROCTL) is not built"
	exit 1
fi

w=$(mktemp -d /tmp/nitro-jail.XXXXXX)
NS=njail UL=192.0.2.91
MiB=1048576
hv_logs=("$w/hv.log")
insts=() hv_pid='' host=''


hv_diag() {
	local l
	for l in "${hv_logs[@]}"; do
		[ -s "$l" ] || continue
		echo "# $(basename "$l"), last 40 lines:"
		tail -n 40 "$l" | sed 's/^/#   /'
	done
}

# hv_start HOST NETNS LOG [OPTION...]: runs nitro-hv for VPC card host HOST
# in the network namespace NETNS (where the card makes the host's ENI
# netdevs), logging to LOG; returns once the controller says it registered.
# Sets hv_pid (nsenter execs it: the pid is nitro-hv's).
hv_start() {
	local m
	m=$(kmsg mark)
	nsenter --net="/run/netns/$2" "$NITRO_HV" --host "$1" "${@:4}" >>"$3" 2>&1 &
	hv_pid=$!
	for _ in $(seq 150); do
		kmsg since "$m" | grep -q "hypervisor of host $1 registered" && return 0
		kill -0 "$hv_pid" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}
# hv_stop: SIGTERM to nitro-hv, at most 60 s for it to exit (then SIGKILL);
# returns its exit status.
hv_stop() {
	local rc
	[ -n "$hv_pid" ] || return 0
	kill -TERM "$hv_pid" 2>/dev/null
	timeout 60 tail --pid="$hv_pid" -f /dev/null || kill -KILL "$hv_pid" 2>/dev/null
	wait "$hv_pid"
	rc=$?
	hv_pid=
	return $rc
}

# iexec PID SCRIPT [SECONDS]: runs SCRIPT (sh) in the instance whose init is
# host pid PID, through its agent (as its user, in its namespaces and
# cgroup); prints the output and returns the status (124: no answer).
iexec() {
	local a=/proc/$1/root/tmp/agent
	[ -n "$1" ] && [ -d "$a" ] || return 125
	rm -f "$a/rc" "$a/out"
	printf '%s\n' "$2" >"$a/cmd.new" && mv "$a/cmd.new" "$a/cmd" || return 125
	await "$a/rc" "${3:-60}" || return 124
	cat "$a/out"
	return "$(cat "$a/rc")"
}
# in_cgroup ID: how many processes of the machine are in instance ID's cgroup.
in_cgroup() { grep -lx "0::/nitro/$1" /proc/[0-9]*/cgroup 2>/dev/null | wc -l; }
# mnt PID PATH: "FSTYPE OPTIONS" of the mount at PATH in PID's mount
# namespace (the last one mounted there).
mnt() {
	awk -v p="$2" '$5 == p { for (i = 7; $i != "-"; i++); fs = $(i + 1); o = $6 } END { print fs, o }' \
		"/proc/$1/mountinfo" 2>/dev/null
}
# fact KEY: the value the image printed as "fact KEY=VALUE" ($w/console).
fact() { sed -n "s/^fact $1=//p" "$w/console" | head -1; }
# status_of PID FIELD: a field of /proc/PID/status, tabs as spaces.
status_of() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" 2>/dev/null | tr '\t' ' '; }

cleanup() {
	local i
	for i in "${insts[@]}"; do
		nctl instance terminate "$i" --wait >/dev/null 2>&1 || nctl instance terminate "$i" >/dev/null 2>&1
	done
	hv_stop >/dev/null 2>&1
	[ -n "$host" ] && nctl host delete "$host" >/dev/null 2>&1
	ip netns del $NS 2>/dev/null
	mountpoint -q "$w/base/usr" && umount -l "$w/base/usr"
	mountpoint -q "$w/ov" && umount -l "$w/ov"
	rm -rf "$w"
}
trap cleanup EXIT

# Setup: the modules, the gate, one VPC card host in its namespace (with two
# more interfaces there: an instance sharing the hypervisor's network
# namespace would see them, and the host's underlay socket), its hypervisor.
# Its jail base is the host's /usr under a writable overlay: the VM's own
# root is read-only, so only there does a bind that is not remounted
# read-only show (check 9).
loaded nitro_testcard && rmmod nitro_testcard
load_all
open_gate
kmod veth
log0=$(kmsg mark)
ip netns del $NS 2>/dev/null
ip netns add $NS
ip -n $NS link set lo up
ip -n $NS addr add $UL/32 dev lo
ip -n $NS link add njv0 type veth peer name njv1
host=$(nctl host create --underlay $UL --netns $NS | sed -En '1s/^[[:space:]]*([0-9]+)[[:space:]]*$/\1/p')
base=$w/base
mkdir -p "$base/usr" "$w/ov"
if mount -t tmpfs nitro-jail-ov "$w/ov" && mkdir -p "$w/ov/up" "$w/ov/work" &&
	mount -t overlay nitro-jail-usr -o "lowerdir=/usr,upperdir=$w/ov/up,workdir=$w/ov/work" "$base/usr"; then
	hv_opts=(--jail-base "$base")
else
	echo "# no writable overlay of /usr: check 9 cannot tell a read-only bind from a read-only /usr"
	base='' hv_opts=()
fi
hv_start "$host" $NS "$w/hv.log" "${hv_opts[@]}" || echo "# nitro-hv did not register for host ${host:-none}"
read -r ctl_major ctl_minor < <(stat -c '%t %T' /dev/nitro_ctrl)
ctl_major=$((16#$ctl_major)) ctl_minor=$((16#$ctl_minor))

# The image: facts, then the agent. $1 $2: /dev/nitro_ctrl's numbers on the
# host (it tries to make a node with them). PID 1 without a SIGTERM handler:
# a stop waits out the grace period, then kills.
read -r -d '' image <<'EOF'
exec </dev/null 2>&1
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
f() { echo "fact $1=$2"; }
f pid "$$"
f hostname "$(uname -n)"
f id "$(id -u):$(id -g):$(id -G)"
f status "$(grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status | tr -d ' \t' | tr '\n' ' ')"
ps=; for p in /proc/[0-9]*; do ps="$ps ${p#/proc/}:$(cat "$p/comm" 2>/dev/null)"; done
f procs "$ps"
f nets "$(sed -n '3,$s/^ *\([^:]*\):.*/\1/p' /proc/net/dev | sort | tr '\n' ' ')"
f udp "$(cat /proc/net/udp /proc/net/udp6 | grep -c ':17C1 ')"
f cgroup "$(grep '^0::' /proc/self/cgroup)"
f cgmax "$(cat /sys/fs/cgroup/memory.max 2>&1)"
f cgothers "$(ls /sys/fs/cgroup 2>&1 | grep -c -e '^i-' -e '^nitro$')"
f usr "$(mkdir /usr/nitro-probe 2>&1)"
f tmp "$(echo ok >/tmp/probe 2>&1 && cat /tmp/probe)"
f home "$HOME:$(echo ok >"$HOME/probe" 2>&1 && cat "$HOME/probe")"
f devrw "$(head -c 16 /dev/urandom | wc -c):$(head -c 4 /dev/zero | od -An -tx1 | tr -d ' '):$(echo x >/dev/null && echo ok)"
f ctl "$(cat /dev/nitro_ctrl 2>&1)"
python3 -S - "$1" "$2" <<'PY'
import ctypes, errno, os, sys
name = lambda e: errno.errorcode.get(e, str(e))
libc = ctypes.CDLL(None, use_errno=True)
os.makedirs("/tmp/m", exist_ok=True)
m = name(ctypes.get_errno()) if libc.mount(b"none", b"/tmp/m", b"tmpfs", 0, None) else "mounted"
try:
    os.mknod("/tmp/ctl", 0o20600, os.makedev(int(sys.argv[1]), int(sys.argv[2])))
    k = "made"
except OSError as e:
    k = name(e.errno)
print("fact sys=mount:%s mknod:%s" % (m, k))
PY
echo facts-done
a=/tmp/agent
mkdir -p $a && : >$a/ready
while :; do
	if [ -e $a/cmd ]; then
		mv $a/cmd $a/run
		sh $a/run >$a/out 2>&1
		echo $? >$a/rc.new
		mv $a/rc.new $a/rc
	fi
	sleep 0.2
done
EOF

# 1: run. Fails if run does not print the id, START fails, or the instance
# never reaches running with a pid.
id=$(irun --type nitro.small --host "$host" --name jail-facts --timeout 60 -- \
	/bin/sh -c "$image" jail-image "$ctl_major" "$ctl_minor")
[ -n "$id" ] && insts+=("$id")
state=$(ifield "$id" state) pid=$(ifield "$id" pid)
await "/proc/$pid/root/tmp/agent/ready" 60
nctl instance console "$id" >"$w/console" 2>"$w/console.err"
check '[[ $id =~ ^i-[0-9a-f]{17}$ ]] && [ "$state" = running ] && [ "$pid" -gt 1 ] 2>/dev/null && grep -q "^facts-done" "$w/console"' \
	"instance run --type nitro.small: $id running, init is host pid $pid, its image ran (the console has its facts)" \
	"id '$id', state '$state', pid '$pid', image ${#image} bytes; console: $(head -c 2000 "$w/console" 2>/dev/null; cat "$w/console.err" 2>/dev/null)"

# 2: PID 1. Fails without CLONE_NEWPID, if a jail helper is PID 1 instead of
# the image (NSpid, cmdline), or if /proc is not the new namespace's (the
# image would list the host's processes).
nspid=$(status_of "$pid" NSpid)
cmd0=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-30)
procs=$(fact procs)
nprocs=$(wc -w <<<"$procs")
check '[ "$(fact pid)" = 1 ] && [ "$nspid" = "$pid 1" ] && [[ $cmd0 == "/bin/sh -c "* ]] && [[ " $procs " == *" 1:sh "* ]] && [ "$nprocs" -le 8 ] && [ "$(ls -d /proc/[0-9]* 2>/dev/null | wc -l)" -gt 20 ]' \
	"PID 1 of its own PID namespace is the image itself; it sees $nprocs processes, none of the host's" \
	"image's \$\$ $(fact pid), NSpid '$nspid', cmdline '$cmd0', its /proc: $procs"

# 3: hostname. Fails without CLONE_NEWUTS or if sethostname is skipped.
check '[ "$(fact hostname)" = "$id" ] && [ "$(uname -n)" != "$id" ]' \
	"hostname: the instance id" "the image's uname -n: '$(fact hostname)', the host's: '$(uname -n)'"

# 4: namespaces. Fails if any of the unshare flags is missing (the namespace
# would be the hypervisor's, which is the host's but for the network).
nsdiff=
for n in mnt uts ipc net pid cgroup; do
	mine=$(readlink "/proc/$pid/ns/$n") hosts=$(readlink "/proc/$$/ns/$n") hvs=$(readlink "/proc/$hv_pid/ns/$n")
	if [ -z "$mine" ] || [ "$mine" = "$hosts" ] || [ "$mine" = "$hvs" ]; then nsdiff="$nsdiff $n($mine; host $hosts; hv $hvs)"; fi
done
check '[ -z "$nsdiff" ]' \
	"mount, UTS, IPC, network, PID and cgroup namespaces of its own (none the host's or nitro-hv's)" \
	"shared or unreadable:$nsdiff"

# 5: network. Fails without CLONE_NEWNET: the image would see njv0, njv1 and
# the VPC host's underlay socket (UDP 6081) of the hypervisor's namespace.
check '[ "$(fact nets)" = "lo " ] && [ "$(fact udp)" = 0 ]' \
	"network: only lo (no ENI attached), no socket of the underlay visible" \
	"interfaces '$(fact nets)', UDP 6081 sockets $(fact udp)"

# 6: user. Fails if setuid/setgid are skipped or partial (saved ids still
# 0), or the supplementary groups are kept (setgroups missing).
uids=$(status_of "$pid" Uid) gids=$(status_of "$pid" Gid) groups=$(status_of "$pid" Groups)
u=${uids%% *}
check '[ "$u" -ge 20000 ] 2>/dev/null && [ "$u" -lt 20256 ] && [ "$uids" = "$u $u $u $u" ] && [ "$gids" = "$u $u $u $u" ] && [ -z "${groups// /}" ] && [ "$(fact id)" = "$u:$u:$u" ] && [ "$(stat -c %u "/proc/$pid")" = "$u" ]' \
	"its own uid and gid, 20000 + its slot ($u): real, effective, saved and fs; no supplementary groups" \
	"Uid '$uids', Gid '$gids', Groups '$groups'; the image's id: $(fact id)"

# 7: capabilities. Fails if the bounding or ambient set is not cleared, or
# PR_SET_NO_NEW_PRIVS is not set.
caps=$(grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' "/proc/$pid/status" | tr -d ' \t' | tr '\n' ' ')
nocaps="CapInh:0000000000000000 CapPrm:0000000000000000 CapEff:0000000000000000 CapBnd:0000000000000000 CapAmb:0000000000000000 NoNewPrivs:1 "
check '[ "$caps" = "$nocaps" ] && [ "$(fact status)" = "$nocaps" ]' \
	"no capabilities (inheritable, permitted, effective, bounding, ambient all 0), no_new_privs 1: from the host and in its own /proc/self/status" \
	"host: $caps; image: $(fact status)"

# 8: its root. Fails without pivot_root to a tmpfs of its own (the image
# would run in the host's root), or with the wrong owner or mode.
rootfs=$(mnt "$pid" /) rootst=$(stat -c '%u:%g %a' "/proc/$pid/root/" 2>/dev/null)
check '[ "${rootfs%% *}" = tmpfs ] && [ "$rootst" = "0:0 755" ] && [[ $(readlink "/proc/$pid/root/bin") =~ ^/?usr/bin$ ]]' \
	"/ is a tmpfs of its own, owned by root, mode 0755 (/bin a link to usr/bin)" \
	"/ mounted as '$rootfs', owner and mode '$rootst', /bin -> '$(readlink "/proc/$pid/root/bin")'"

# 9: /usr. Fails if the bind is not remounted read-only (MS_BIND with
# MS_RDONLY in one mount call leaves it writable: the probe would land in
# the base's writable overlay) or is not the base's /usr.
usrm=$(mnt "$pid" /usr)
check '[[ $(fact usr) == *"Read-only file system"* ]] && [[ ,${usrm#* }, == *,ro,* ]] && [[ ,${usrm#* }, == *,nosuid,* ]] && [ "$(stat -c %d:%i "/proc/$pid/root/usr/bin")" = "$(stat -c %d:%i "$base/usr/bin")" ] && [ ! -e "$base/usr/nitro-probe" ]' \
	"/usr is the jail base's, bound read-only, nosuid (over a writable overlay): mkdir there fails with EROFS" \
	"mkdir /usr/nitro-probe said '$(fact usr)'; /usr mounted as '$usrm'; in the base: $(ls -d "$base/usr/nitro-probe" 2>&1)"

# 10: /tmp and $HOME. Fails if they are not writable by the instance's user.
home=$(fact home) home=${home%%:*}
check '[ "$(fact tmp)" = ok ] && [ "$(stat -c %a "/proc/$pid/root/tmp")" = 1777 ] && [ "$(stat -c %u "/proc/$pid/root/tmp/probe")" = "$u" ] && [ -n "$home" ] && [ "$home" != / ] && [ "$(fact home)" = "$home:ok" ] && [ "$(stat -c %u "/proc/$pid/root$home")" = "$u" ]' \
	"/tmp (1777) and \$HOME ($home, its own) are writable" \
	"/tmp: '$(fact tmp)', mode $(stat -c %a "/proc/$pid/root/tmp" 2>/dev/null); HOME: '$(fact home)', owner $(stat -c %u "/proc/$pid/root$home" 2>/dev/null)"

# 11: /dev. Fails if the host's /dev (or a devtmpfs) is mounted there (sda,
# nitro_ctrl, kmsg, mem would show), a node has the wrong numbers, pts or
# shm is missing, or /dev is mounted nodev (the nodes would not open).
devbad=
for e in "/proc/$pid/root/dev"/* "/proc/$pid/root/dev"/.[!.]*; do
	[ -e "$e" ] || [ -L "$e" ] || continue
	e=${e##*/}
	case $e in
	null | zero | full | random | urandom | tty | pts | shm) ;;
	fd | stdin | stdout | stderr | ptmx) [ -L "/proc/$pid/root/dev/$e" ] || [ "$e" = ptmx ] || devbad="$devbad $e(not a link)" ;;
	disk) [ -z "$(find "/proc/$pid/root/dev/disk" ! -type d 2>/dev/null)" ] || devbad="$devbad disk(has entries)" ;;
	*) devbad="$devbad $e" ;;
	esac
done
for e in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
	n=${e%%:*} want=${e#*:}
	got=$(stat -c '%F %t:%T' "/proc/$pid/root/dev/$n" 2>/dev/null)
	[ "$got" = "character special file $(printf '%x:%x' "${want%:*}" "${want#*:}")" ] || devbad="$devbad $n($got)"
done
[ "$(mnt "$pid" /dev/pts | cut -d' ' -f1)" = devpts ] || devbad="$devbad pts($(mnt "$pid" /dev/pts))"
[ "$(mnt "$pid" /dev/shm | cut -d' ' -f1)" = tmpfs ] || devbad="$devbad shm($(mnt "$pid" /dev/shm))"
check '[ -z "$devbad" ] && [ "$(fact devrw)" = "16:00000000:ok" ]' \
	"/dev: null zero full random urandom tty (the host's numbers), pts, shm, and nothing else; they work" \
	"unexpected or wrong:${devbad:- none}; read urandom, zero, write null: '$(fact devrw)'; /dev: $(cd "/proc/$pid/root/dev" 2>/dev/null && echo * .[!.]*)"

# 12: no privilege. Fails if it keeps CAP_SYS_ADMIN or CAP_MKNOD (mount or
# mknod work), or if /dev/nitro_ctrl is in its /dev.
check '[ "$(fact sys)" = "mount:EPERM mknod:EPERM" ] && [[ $(fact ctl) == *"No such file or directory"* ]]' \
	"it cannot mount (EPERM), cannot make a node for the controller ($ctl_major:$ctl_minor, EPERM), has no /dev/nitro_ctrl" \
	"$(fact sys); cat /dev/nitro_ctrl: $(fact ctl)"

# 13: its cgroup, from the host. Fails if the limits are computed wrong, not
# written, or the init is not in the cgroup.
cg=/sys/fs/cgroup/nitro/$id
cgv="$(cat "$cg/cpu.max" 2>&1)|$(cat "$cg/memory.max" 2>&1)|$(cat "$cg/memory.swap.max" 2>&1)|$(cat "$cg/pids.max" 2>&1)"
check '[ "$cgv" = "100000 100000|268435456|0|512" ] && [ "$(grep "^0::" "/proc/$pid/cgroup")" = "0::/nitro/$id" ]' \
	"cgroup /sys/fs/cgroup/nitro/$id: cpu.max 100000 100000, memory.max 268435456, memory.swap.max 0, pids.max 512; its init is in it" \
	"cpu.max|memory.max|memory.swap.max|pids.max: $cgv; init in $(grep "^0::" "/proc/$pid/cgroup" 2>&1)"

# 14: its view of cgroups. Fails without CLONE_NEWCGROUP, or if it unshares
# before joining its cgroup (its root would be the hypervisor's cgroup), or
# if /sys/fs/cgroup is not a cgroup2 mount of its own.
check '[ "$(fact cgroup)" = "0::/" ] && [ "$(fact cgmax)" = 268435456 ] && [ "$(fact cgothers)" = 0 ] && [ "$(mnt "$pid" /sys/fs/cgroup | cut -d" " -f1)" = cgroup2 ]' \
	"inside, its cgroup is / and /sys/fs/cgroup shows only it (memory.max there is its own)" \
	"/proc/self/cgroup '$(fact cgroup)', /sys/fs/cgroup/memory.max '$(fact cgmax)', other instances or nitro listed: $(fact cgothers), mount $(mnt "$pid" /sys/fs/cgroup)"

# 15-16: a memory hog (at most 768 MiB: bounded if memory.max were missing).
# Fails if memory.max is not applied (the hog ends by itself, or a global
# OOM kills something else), if the OOM killer is not confined to the
# instance's cgroup, or if it takes the instance's init with it.
cat >"/proc/$pid/root/tmp/agent/hog.py" <<'EOF'
chunks = []
for i in range(48):
    chunks.append(b"\x5a" * (16 << 20))
    print(i + 1, flush=True)
EOF
m=$(kmsg mark)
# (sh says "Killed" on a line of its own first.)
hog=$(iexec "$pid" 'python3 -S /tmp/agent/hog.py >/tmp/agent/hog.out; echo "hog-status=$? after $(tail -1 /tmp/agent/hog.out) chunks of 16 MiB"' 180)
oomlog=$(kmsg since "$m")
ooms=$(sed -n 's/^oom_kill //p' "$cg/memory.events" 2>/dev/null)
check '[[ $hog == *"hog-status=137 "* ]] && [ "${ooms:-0}" -ge 1 ] && grep -Eq "Memory cgroup out of memory: Killed process [0-9]+ \(python3\)" <<<"$oomlog" && grep -q "oom-kill:constraint=CONSTRAINT_MEMCG,.*oom_memcg=/nitro/$id,task_memcg=/nitro/$id,task=python3,.*uid=$u" <<<"$oomlog" && [ "$(ifield "$id" state)" = running ] && [ -n "$(alive "$pid")" ] && kill -0 "$hv_pid"' \
	"a memory hog past memory.max is OOM-killed in its cgroup only (SIGKILL, oom_kill $ooms): the instance's init, nitro-hv and the host go on" \
	"$hog; memory.events oom_kill ${ooms:-none}; kernel log: $(grep -E "oom|Killed process" <<<"$oomlog" | head -5)"
read -r mpid mcpu mcur mpeak < <(nctl instance describe "$id" --json | jx '" ".join(str(d[k]) for k in ("pid", "cpu_usec", "memory_current", "memory_peak"))')
# Fails if START hands the controller no (or other) cgroup files.
check '[ "$mpid" = "$pid" ] && [ "${mcpu:-0}" -gt 0 ] && [ "${mcur:-0}" -gt 0 ] && [ "${mpeak:-0}" -ge $((192 * MiB)) ] && [ "$mpeak" -le 268435456 ]' \
	"the controller reads its cgroup: cpu ${mcpu:-?} us, memory now ${mcur:-?} B, peak ${mpeak:-?} B (the hog's, at most memory.max)" \
	"describe: pid ${mpid:-?}, cpu_usec ${mcpu:-?}, memory_current ${mcur:-?}, memory_peak ${mpeak:-?}; memory.peak $(cat "$cg/memory.peak" 2>&1)"

# 17: a fork bomb (at most 1000 processes: bounded if pids.max were
# missing). It forks sleepers until fork fails, then lets 16 go (room for
# the agent) and exits; the rest stay, for the stop. Fails if pids.max is
# not applied.
cat >"/proc/$pid/root/tmp/agent/bomb.py" <<'EOF'
import errno, gc, os, signal, time
gc.disable()
kids, err = [], "none"
for i in range(1000):
    try:
        p = os.fork()
    except OSError as e:
        err = errno.errorcode.get(e.errno, str(e.errno))
        break
    if p == 0:
        time.sleep(600)
        os._exit(0)
    kids.append(p)
for p in kids[-16:]:
    os.kill(p, signal.SIGKILL)
    os.waitpid(p, 0)
print("spawned=%d err=%s" % (len(kids), err))
EOF
m=$(kmsg mark)
bomb=$(iexec "$pid" 'python3 -S /tmp/agent/bomb.py' 300)
n=$(sed -n 's/^spawned=\([0-9]*\) .*/\1/p' <<<"$bomb")
pmax=$(sed -n 's/^max //p' "$cg/pids.events" 2>/dev/null) pcur=$(cat "$cg/pids.current" 2>/dev/null)
check '[[ $bomb == *" err=EAGAIN" ]] && [ "${n:-0}" -ge 480 ] && [ "$n" -le 511 ] && [ "${pmax:-0}" -ge 1 ] && [ "${pcur:-999}" -le 512 ] && kmsg since "$m" | grep -q "fork rejected by pids controller in .*$id" && [ "$(ifield "$id" state)" = running ]' \
	"a fork bomb stops at pids.max: $n processes forked, then EAGAIN (pids.events max $pmax); the instance goes on" \
	"bomb: '$bomb'; pids.current ${pcur:-?}, pids.events max ${pmax:-?}"

# 18: stop. PID 1 has no SIGTERM handler (the kernel drops the signal), so
# the stop waits out the 5 s grace period, then kills the cgroup. Fails if
# the grace period is skipped, a process survives (the jail helper, or one
# the kill missed), the hypervisor reports the stop before every process is
# gone, or the cgroup is left behind.
mapfile -t procs_before <"$cg/cgroup.procs"
echo "# ${#procs_before[@]} processes in the cgroup before the stop"
t0=$(date +%s%N)
nctl instance stop "$id" --wait >/dev/null; rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
left=$(alive "${procs_before[@]}" | wc -l)
check '[ $rc = 0 ] && [ "$(ifield "$id" state)" = stopped ] && [ $ms -ge 4000 ] && [ "$left" = 0 ] && [ ! -e "$cg" ] && [ "$(in_cgroup "$id")" = 0 ] && [ "${#procs_before[@]}" -ge 400 ]' \
	"stop: after the 5 s grace period (init ignores SIGTERM) every one of its ${#procs_before[@]} processes is killed, the cgroup removed; stopped in $ms ms" \
	"stop exit $rc, state $(ifield "$id" state), $ms ms, $left of ${#procs_before[@]} processes left, cgroup dir $([ -e "$cg" ] && echo present || echo gone)"

# 19: the console of the last run. Fails if the hypervisor drops it at stop.
nctl instance console "$id" >"$w/console.stopped" 2>&1
check 'cmp -s <(head -c "$(stat -c %s "$w/console")" "$w/console.stopped") "$w/console" && grep -q "^facts-done" "$w/console.stopped"' \
	"the console keeps the output of the stopped run" "console now: $(head -c 500 "$w/console.stopped")"

# 20: start again. Fails if start does not build a new jail from scratch
# (the old root's files, the old console), or the cgroup is not made again.
nctl instance start "$id" --wait >/dev/null; rc=$?
pid2=$(ifield "$id" pid)
await "/proc/$pid2/root/tmp/agent/ready" 60
nctl instance console "$id" >"$w/console" 2>&1
check '[ $rc = 0 ] && [ "$(ifield "$id" state)" = running ] && [ "$pid2" != "$pid" ] && [ -e "/proc/$pid2/root/tmp/agent/ready" ] && [ ! -e "/proc/$pid2/root/tmp/agent/hog.py" ] && [ "$(grep -c "^facts-done" "$w/console")" = 1 ] && [ "$(fact hostname)" = "$id" ] && [ "$(cat "$cg/pids.max" 2>&1)" = 512 ] && [ "$(grep "^0::" "/proc/$pid2/cgroup")" = "0::/nitro/$id" ]' \
	"start again: the image runs again (pid $pid2) on a fresh root, in its cgroup made again; the console has this run only" \
	"start exit $rc, state $(ifield "$id" state), pid $pid2 (was $pid); console: $(head -c 300 "$w/console")"
nctl instance stop "$id" --force --wait >/dev/null

# 21: stop sends SIGTERM to init first. Its trap prints and exits: the stop
# ends before the grace period. Fails if the hypervisor only kills, or sits
# out the grace period although init has exited.
read -r -d '' trap_image <<'EOF'
exec </dev/null 2>&1
trap 'echo got-sigterm; exit 0' TERM
echo trap-set
: >/tmp/trap-set
while :; do sleep 1 & wait $!; done
EOF
tid=$(irun --type nitro.micro --host "$host" --name jail-trap --timeout 60 -- /bin/sh -c "$trap_image")
[ -n "$tid" ] && insts+=("$tid")
tpid=$(ifield "$tid" pid)
await "/proc/$tpid/root/tmp/trap-set" 60
t0=$(date +%s%N)
nctl instance stop "$tid" --wait >/dev/null; rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
tcon=$(nctl instance console "$tid" 2>&1)
check '[ $rc = 0 ] && [ "$(ifield "$tid" state)" = stopped ] && grep -q "^got-sigterm" <<<"$tcon" && [ $ms -lt 5000 ] && [ ! -e "/sys/fs/cgroup/nitro/$tid" ]' \
	"stop sends SIGTERM to the instance's init first: its handler ran, the stop took $ms ms (less than the grace period)" \
	"stop exit $rc, state $(ifield "$tid" state), $ms ms; console: $tcon"

# 22: a launch that cannot exec. Fails if the hypervisor reports success (or
# another errno) for an image that does not exist, or leaves its cgroup.
fid=$(nctl instance create --type nitro.micro --host "$host" --name jail-noexec -- /nonexistent/init | awk '/^i-/ { print $1 }')
[ -n "$fid" ] && insts+=("$fid")
nctl instance start "$fid" >/dev/null
nctl instance wait "$fid" stopped --timeout 60 >/dev/null; rc=$?
fdesc=$(nctl instance describe "$fid" --json 2>&1)
ferr=$(jx 'd["error"]' <<<"$fdesc")
check '[ $rc = 0 ] && [ "$(jx "d[\"reason\"]" <<<"$fdesc")" = launch-failed ] && [[ $ferr == 2 || $ferr == *ENOENT* ]] && [ ! -e "/sys/fs/cgroup/nitro/$fid" ] && kill -0 "$hv_pid"' \
	"an image that does not exist: stopped, reason launch-failed, error ENOENT; no cgroup left, nitro-hv goes on" \
	"wait exit $rc; describe: $fdesc"

# 23: run of such an image. Fails if instance run leaves the instance it
# made, or does not say why it failed.
out=$(nctl instance run --type nitro.micro --host "$host" --name jail-norun -- /nonexistent/init 2>&1); rc=$?
left=$(nctl instance list --json | jx '",".join(i["state"] for i in d if i.get("name") == "jail-norun")')
check '[ $rc = 1 ] && grep -Eq "ENOENT|launch-failed" <<<"$out" && [[ $left =~ ^(terminated,?)+$ ]]' \
	"instance run of an image that cannot start: exit 1, the reason given, the instance it made terminated" \
	"exit $rc: $out; instances named jail-norun: ${left:-none}"

# 24: the kernel log, less the expected memcg OOM report. Fails on any oops,
# warning or lockdep splat, and if the filter let the hog's report through
# or there was none.
bad=$(kmsg since "$log0" | memcg_oom_filter | grep -E "$KLOG_BAD")
check '[ -z "$bad" ] && kmsg since "$log0" | grep -q "Memory cgroup out of memory: Killed process"' \
	"kernel log clean but for the hog's memcg OOM report" "$(head -40 <<<"$bad")"

ktap_done
