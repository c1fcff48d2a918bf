#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# instances: instances with their devices, run by nitro-hv on two VPC card
# hosts (Documentation/instances.rst: the model, EC2's semantics, the
# hypervisor's commands). Each instance runs an agent image: it runs the
# scripts the test drops into its tmpfs (through /proc/<pid>/root/tmp/agent,
# as root on the host) as the instance's own user, in its namespaces and
# cgroup, as a real guest would.
#
#   ia (nitro.small) ---- host A: 192.0.2.81 in nia ==veth== host B: 192.0.2.82 in nib ---- ib (nitro.small)
#   idl (nitrod.large)    hypervisor nitro-hv A              hypervisor nitro-hv B
#
# VPC 42: ia 10.4.0.1 (--new-eni), ib 10.4.0.2 (--new-eni), ia's second ENI
# 10.4.0.11. Sealed between the hosts (one key, epoch 1). nitro-hv A runs
# in host A's namespace (where the card makes its ENI netdevs), B in the
# initial one (it finds host B's namespace by itself): both ways of running
# it are used.
#
# An EBS volume given at run is /dev/sdf inside (its size, its by-id link);
# what the instance writes there the host reads back after detach, and the
# backing holds only ciphertext; hot attach and detach work while it runs,
# also under I/O. An ENI made by run is eth0 (its MAC, a /32, a default
# route); two instances on two hosts talk TCP and ping; a second ENI is
# hot-attached as eth1 and detached. An attach the hypervisor refuses (a name
# that clashes with /dev/null) is undone. Stop and start keep the EBS volume
# and the ENIs (their netdev goes back to the host's namespace while
# stopped) and run the image again; terminate detaches everything, deletes
# the ENI run made and leaves the EBS volume available. An image that exits
# stops its instance (instance-initiated-shutdown); a killed hypervisor
# stops its running instances (hypervisor-lost), terminates the one shutting
# down, and takes their processes with it; a new one registers and starts
# them again; SIGTERM ends nitro-hv cleanly. Two instances on one host do
# not see each other's processes, files, disks or network. nitrod.large: an
# instance store at sdb that reads zeros, is wiped at stop (dmesg says so)
# and deleted at terminate. The kernel log stays clean throughout.
#
# The conditions given to check are strings ok evaluates later (SC2016), and
# the variables they use are set for them (SC2034).
# shellcheck disable=SC2016,SC2034
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

ktap_header 25
if [ ! -x "$NITRO_HV" ] || [ ! -x "$NITROCTL" ]; then
	echo "# nitro-hv ($NITRO_HV) or nitroctl ($NITROCTL) is not built"
	exit 1
fi

w=$(mktemp -d /tmp/nitro-inst.XXXXXX)
NSA=nia NSB=nib ULA=192.0.2.81 ULB=192.0.2.82
MiB=1048576
fw=/tmp/nitro-fw
keyfile=$fw/nitro-rs/ebs-card.key
declare -A hvpid P
insts=() enis=() vols=() hosts=()
# iputils ping if there is one, else busybox's.
if command -v ping >/dev/null 2>&1 && ping -V >/dev/null 2>&1; then PING=(ping); else PING=(busybox ping); fi

# vfield VOL KEY, efield ENI KEY: a field of volume show --json, eni show --json.
vfield() { nctl volume show "$1" --json 2>/dev/null | jx "d[\"$2\"]"; }
efield() { nctl eni show "$1" --json 2>/dev/null | jx "d[\"$2\"]"; }
# eni_on ID DEVICE: the ENI attached to instance ID as DEVICE (eth0).
eni_on() { nctl eni list --json | jx "[e[\"id\"] for e in d if e.get(\"instance\") == \"$1\" and e.get(\"device\") == \"$2\"][0]"; }

hv_diag() {
	local l
	for l in "$w"/hv-*.log; do
		[ -s "$l" ] || continue
		echo "# $(basename "$l"), last 30 lines:"
		tail -n 30 "$l" | sed 's/^/#   /'
	done
}

# hv_start NAME HOST NETNS: runs nitro-hv for VPC card host HOST in the
# network namespace NETNS (- for the initial one), logging to
# $w/hv-NAME.log; returns once the controller says it registered. Sets
# hvpid[NAME] (nsenter execs it: the pid is nitro-hv's).
hv_start() {
	local m ns=()
	m=$(kmsg mark)
	[ "$3" = - ] || ns=(nsenter --net="/run/netns/$3")
	"${ns[@]}" "$NITRO_HV" --host "$2" >>"$w/hv-$1.log" 2>&1 &
	hvpid[$1]=$!
	for _ in $(seq 150); do
		kmsg since "$m" | grep -q "hypervisor of host $2 registered" && return 0
		kill -0 "${hvpid[$1]}" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}
# hv_signal NAME SIGNAL: sends SIGNAL to nitro-hv NAME, at most 60 s for it
# to exit (then SIGKILL); returns its exit status.
hv_signal() {
	local p=${hvpid[$1]:-} rc
	[ -n "$p" ] || return 0
	kill "-$2" "$p" 2>/dev/null
	timeout 60 tail --pid="$p" -f /dev/null || kill -KILL "$p" 2>/dev/null
	wait "$p"
	rc=$?
	hvpid[$1]=
	return $rc
}

# launched ID: notes instance ID's init pid in P[ID] and waits for its agent.
launched() {
	P[$1]=$(ifield "$1" pid)
	await "/proc/${P[$1]}/root/tmp/agent/ready" 60
}
# ix ID SCRIPT [SECONDS]: runs SCRIPT (sh) in instance ID through its agent
# (as its user, in its namespaces and cgroup); prints the output and returns
# the status (124: no answer, 125: no agent).
ix() {
	local a=/proc/${P[$1]:-none}/root/tmp/agent
	[ -d "$a" ] || return 125
	rm -f "$a/rc" "$a/out"
	printf '%s\n' "$2" >"$a/cmd.new" && mv "$a/cmd.new" "$a/cmd" || return 125
	await "$a/rc" "${3:-60}" || return 124
	cat "$a/out"
	return "$(cat "$a/rc")"
}
# iput ID NAME FILE: copies FILE into instance ID's agent directory as NAME.
iput() { cp "$3" "/proc/${P[$1]:-none}/root/tmp/agent/$2"; }
# gone PID...: waits up to 20 s until none of PID... is a process.
gone() {
	for _ in $(seq 100); do
		[ -z "$(alive "$@")" ] && return 0
		sleep 0.2
	done
	return 1
}
# cgprocs ID: the pids in instance ID's cgroup.
cgprocs() { cat "/sys/fs/cgroup/nitro/$1/cgroup.procs" 2>/dev/null; }
# uid_of PID: its real uid.
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
# host_disk VOL: the block card's disk (nitro<N>n1) of attached volume VOL.
host_disk() {
	local d
	for d in /sys/block/nitro*n1; do
		[ "$(cat "$d/nitro/serial" 2>/dev/null)" = "vol${1#vol-}" ] && echo "${d##*/}" && return 0
	done
	return 1
}
# devno DISK: its major:minor in hex, as stat %t:%T prints them.
devno() { local n; n=$(cat "/sys/block/$1/dev" 2>/dev/null) && printf '%x:%x' "${n%:*}" "${n#*:}"; }
# received NETNS DEST COUNT: how many of COUNT pings from NETNS came back.
received() {
	timeout 60 nsenter --net="$1" "${PING[@]}" -c "$3" -w 15 -q "$2" 2>/dev/null |
		sed -En 's/.* ([0-9]+) (packets )?received.*/\1/p' | tail -1
}
# ifnames: the interface names of `ip -o link` on stdin, space-separated.
ifnames() { sed -En 's/^[0-9]+: ([^:@]+).*/\1/p' | tr '\n' ' '; }
# hostnum: the number nitroctl host create printed.
hostnum() { sed -En '1{s/^[[:space:]]*([0-9]+)[[:space:]]*$/\1/p}'; }

cleanup() {
	local i e v h
	# Instances first, while their hypervisors run: then the devices are free.
	for i in "${insts[@]}"; do
		nctl instance terminate "$i" --wait >/dev/null 2>&1 || nctl instance terminate "$i" >/dev/null 2>&1
	done
	for h in "${!hvpid[@]}"; do hv_signal "$h" TERM >/dev/null 2>&1; done
	for e in "${enis[@]}"; do
		nctl eni detach "$e" >/dev/null 2>&1
		nctl eni delete "$e" >/dev/null 2>&1
	done
	for v in "${vols[@]}"; do
		nctl volume detach "$v" >/dev/null 2>&1
		nctl volume delete "$v" >/dev/null 2>&1
	done
	for h in "${hosts[@]}"; do nctl host delete "$h" >/dev/null 2>&1; done
	ip netns del $NSA 2>/dev/null
	ip netns del $NSB 2>/dev/null
	cryptsetup close nitro_inst 2>/dev/null
	rm -rf "$w"
}
trap cleanup EXIT

# Setup: the modules, the gate, the EBS card key (the one ebs.sh left, or a
# new one; the card loads it when it loads), two hosts with a veth between
# them and one key, a hypervisor for each, an EBS volume.
loaded nitro_testcard && rmmod nitro_testcard
load_all
open_gate
kmod veth
kmod dm-crypt
log0=$(kmsg mark)
mkdir -p "$fw/nitro-rs"
[ -s "$keyfile" ] || head -c 32 /dev/urandom >"$keyfile"
echo -n "$fw" >/sys/module/firmware_class/parameters/path
rmmod nitro_nvme && load nitro_nvme || echo "# the block card did not reload with the EBS card key"
for ns in $NSA $NSB; do
	ip netns del "$ns" 2>/dev/null
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
ip -n $NSA link add ul type veth peer name ul netns $NSB
ip -n $NSA addr add $ULA/24 dev ul
ip -n $NSA link set ul mtu 9200 up
ip -n $NSB addr add $ULB/24 dev ul
ip -n $NSB link set ul mtu 9200 up
hA=$(nctl host create --underlay $ULA --netns $NSA | hostnum)
hB=$(nctl host create --underlay $ULB --netns $NSB | hostnum)
hosts+=("$hA" "$hB")
head -c 32 /dev/urandom >"$w/peer.key"
nctl host key "$hA" --peer $ULB --epoch 1 --key-file "$w/peer.key" >/dev/null
nctl host key "$hB" --peer $ULA --epoch 1 --key-file "$w/peer.key" >/dev/null
hv_start a "$hA" $NSA || echo "# nitro-hv A did not register for host ${hA:-none}"
hv_start b "$hB" - || echo "# nitro-hv B did not register for host ${hB:-none}"
head -c 64 /dev/urandom >"$w/data.key"
nctl key wrap --card-key "$keyfile" --data-key "$w/data.key" -o "$w/wrapped" >/dev/null
truncate -s 64M "$w/vol.img"
vol=$(nctl volume create --kind ebs --size 64M --backing "$w/vol.img" --wrapped-key "$w/wrapped" | awk '/^vol-/ { print $1 }')
vols+=("$vol")
serial=vol${vol#vol-}

# The agent image ($0 names it: agent-ia, ...). PID 1, no SIGTERM handler.
read -r -d '' agent <<'EOF'
exec </dev/null 2>&1
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
a=/tmp/agent
mkdir -p $a
echo "agent-up $(uname -n)"
: >$a/ready
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
# A TCP echo server (port in argv) and a client that retries for 20 s.
cat >"$w/srv.py" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(8)
while True:
    c, _ = s.accept()
    c.sendall(b"echo:" + c.recv(256))
    c.close()
EOF
cat >"$w/cli.py" <<'EOF'
import socket, sys, time
host, port, msg = sys.argv[1], int(sys.argv[2]), sys.argv[3]
end = time.monotonic() + 20
while True:
    try:
        c = socket.create_connection((host, port), timeout=5)
        c.sendall(msg.encode())
        print(c.recv(256).decode())
        break
    except OSError as e:
        if time.monotonic() > end:
            print("failed:", e)
            sys.exit(1)
        time.sleep(0.5)
EOF
# serve PORT: the script that starts the echo server in an instance and
# waits until it listens.
serve() { echo "python3 -S /tmp/agent/srv.py $1 >/tmp/agent/srv.log 2>&1 & for i in \$(seq 100); do ss -Htln | grep -q ':$1 ' && exit 0; sleep 0.2; done; exit 1"; }

# 1: run with an EBS volume and a new ENI. Fails if run does not attach
# before it starts, marks the wrong device or flags, gives the ENI other
# allowances than its type's, or never gets running.
ia=$(irun --type nitro.small --host "$hA" --name inst-a --volume "$vol:sdf" --new-eni 42:10.4.0.1 --timeout 60 -- \
	/bin/sh -c "$agent" agent-ia)
[ -n "$ia" ] && insts+=("$ia")
launched "$ia"; lrc=$?
ea=$(eni_on "$ia" eth0)
[ "$ea" != null ] && enis+=("$ea")
macA=$(efield "$ea" mac)
vj=$(nctl volume show "$vol" --json 2>&1) ej=$(nctl eni show "$ea" --json 2>&1)
vsum=$(jx '"|".join(map(str, (d["instance"], d["device"], d["delete_on_termination"], d["state"])))' <<<"$vj")
esum=$(jx '"|".join(map(str, (d["delete_on_termination"], d["state"], d["ipv4"], d["BandwidthInAllowanceBps"], d["BandwidthOutAllowanceBps"], d["PpsAllowance"])))' <<<"$ej")
check '[ -n "$ia" ] && [ "$(ifield "$ia" state)" = running ] && [ $lrc = 0 ] && [ "$vsum" = "$ia|sdf|False|attached" ] && [ "$esum" = "True|attached|10.4.0.1|500000000|500000000|50000" ]' \
	"instance run --volume $vol:sdf --new-eni 42:10.4.0.1: $ia running; the volume attached to it as sdf, the new ENI as eth0 with delete-on-termination and nitro.small's allowances (500 Mbit/s each way, 50000 pps)" \
	"id '$ia', state $(ifield "$ia" state), agent $lrc; volume: $vj; ENI eth0 '$ea': $ej"
pa=${P[$ia]} ua=$(uid_of "${P[$ia]}")

# 2: /dev/sdf. Fails if the node has other numbers than the card's disk, is
# not the instance user's (it could not open it), or is missing.
hd=$(host_disk "$vol")
sdf=$(stat -c '%F %t:%T %u %a' "/proc/$pa/root/dev/sdf" 2>&1)
size=$(ix "$ia" 'blockdev --getsize64 /dev/sdf')
check '[ -n "$hd" ] && [ "$sdf" = "block special file $(devno "$hd") $ua 660" ] && [ "$size" = $((64 * MiB)) ]' \
	"/dev/sdf in the instance: the card's disk $hd, its user's, mode 0660; 64 MiB to blockdev inside" \
	"host disk '$hd' ($(devno "$hd")); /dev/sdf: $sdf; blockdev inside: $size"

# 3: the by-id link. Fails if it is missing or named otherwise than EC2
# names it (model, then the volume id without its dash).
link=$(ix "$ia" "readlink -f /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$serial")
check '[ "$link" = /dev/sdf ]' \
	"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$serial -> /dev/sdf" \
	"readlink -f: '$link'; by-id: $(ls -l "/proc/$pa/root/dev/disk/by-id/" 2>&1)"

# 4: eth0. Fails if the ENI is not moved in, renamed, brought up and given
# its address (a /32) and a default route.
net=$(ix "$ia" 'ip -o link; echo ---; ip -o -4 addr show dev eth0; echo ---; ip route')
links=$(sed '/^---/,$d' <<<"$net")
check '[ "$(ifnames <<<"$links")" = "lo eth0 " ] && grep -Eqi "^[0-9]+: eth0: <[^>]*\bUP\b.*link/ether $macA " <<<"$links" && grep -q "inet 10.4.0.1/32 " <<<"$net" && grep -Eq "^default .*dev eth0" <<<"$net"' \
	"eth0 in the instance: the ENI ($macA), up, 10.4.0.1/32, default route through it; lo and eth0 only" \
	"$net"

# 5: a second instance on host B; TCP and ping across the hosts. Fails if
# an ENI is not configured on one side, or the hypervisors move the wrong
# interface.
ib=$(irun --type nitro.small --host "$hB" --name inst-b --new-eni 42:10.4.0.2 --timeout 60 -- \
	/bin/sh -c "$agent" agent-ib)
[ -n "$ib" ] && insts+=("$ib")
launched "$ib"
eb=$(eni_on "$ib" eth0)
[ "$eb" != null ] && enis+=("$eb")
macB=$(efield "$eb" mac)
nctl map set --host "$hA" --vpc 42 --ip 10.4.0.2 --mac "$macB" --underlay $ULB --nitro >/dev/null
nctl map set --host "$hB" --vpc 42 --ip 10.4.0.1 --mac "$macA" --underlay $ULA --nitro >/dev/null
iput "$ib" srv.py "$w/srv.py"
srv=$(ix "$ib" "$(serve 7000)"); src=$?
iput "$ia" cli.py "$w/cli.py"
tcp=$(ix "$ia" 'python3 -S /tmp/agent/cli.py 10.4.0.2 7000 "hello-from-$(uname -n)"' 90)
pings=$(received "/proc/$pa/ns/net" 10.4.0.2 3)
check '[ $src = 0 ] && [ "$tcp" = "echo:hello-from-$ia" ] && [ "$pings" = 3 ]' \
	"ia on host A and ib on host B ($ib): TCP from ia's agent to ib's echo server, ping from ia's network stack (3 of 3)" \
	"server $src: $srv $(cat "/proc/${P[$ib]}/root/tmp/agent/srv.log" 2>/dev/null); client: $tcp; ping: ${pings:-none} replies"

# 6: data written inside, then hot detach. Fails if DETACH_DISK leaves the
# node or its link, or the detach does not complete.
head -c $MiB /dev/urandom >"$w/data"
marker=NITRO-INSTANCE-PLAINTEXT-4c1e9a
yes "$marker" | head -c $MiB >"$w/marker"
iput "$ia" data "$w/data"
iput "$ia" marker "$w/marker"
wr=$(ix "$ia" 'dd if=/tmp/agent/data of=/dev/sdf bs=64k seek=16 oflag=direct conv=fsync status=none && dd if=/tmp/agent/marker of=/dev/sdf bs=64k seek=64 oflag=direct conv=fsync status=none && echo written')
nctl volume detach "$vol" >/dev/null; rc=$?
check '[ "$wr" = written ] && [ $rc = 0 ] && [ ! -e "/proc/$pa/root/dev/sdf" ] && [ ! -L "/proc/$pa/root/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$serial" ] && [ "$(vfield "$vol" state)" = available ] && [ "$(vfield "$vol" instance)" = null ]' \
	"dd inside wrote to /dev/sdf; hot detach: the node and its link are gone from the instance, the volume is available" \
	"dd: $wr; detach exit $rc; sdf: $(ls -l "/proc/$pa/root/dev/sdf" 2>&1); volume $(vfield "$vol" state), instance $(vfield "$vol" instance)"

# 7: what the storage server holds. Fails if the data did not reach the
# volume, or the backing holds plaintext.
disk=$(vol_attach "$vol" sdq)
rb=$([ -n "$disk" ] && dd if="/dev/$disk" bs=64k skip=16 count=16 iflag=direct status=none | cmp -s - "$w/data" && echo same)
rmk=$([ -n "$disk" ] && dd if="/dev/$disk" bs=64k skip=64 count=16 iflag=direct status=none | cmp -s - "$w/marker" && echo same)
nctl volume detach "$vol" >/dev/null
cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 --sector-size 4096 \
	--key-file "$w/data.key" "$w/vol.img" nitro_inst
dm=$(dd if=/dev/mapper/nitro_inst bs=64k skip=16 count=16 status=none | cmp -s - "$w/data" && echo same)
cryptsetup close nitro_inst
check '[ "$rb" = same ] && [ "$rmk" = same ] && ! grep -q "$marker" "$w/vol.img" && [ "$dm" = same ]' \
	"the host reads back what the instance wrote (attached to the host as $disk); the backing has no plaintext, dm-crypt with the data key reads it" \
	"host read: data '${rb:-differs}', marker '${rmk:-differs}'; plaintext in the backing: $(grep -c "$marker" "$w/vol.img"); dm-crypt read '${dm:-differs}'"

# 8: an attach the hypervisor cannot carry out: a device name that is one
# of the instance's standard nodes. Fails if the hypervisor replaces
# /dev/null with the disk, or the controller leaves the volume attached.
out=$(nctl volume attach "$vol" --instance "$ia" --device null 2>&1); rc=$?
null=$(stat -c '%F %t:%T' "/proc/$pa/root/dev/null" 2>&1)
nullrw=$(ix "$ia" 'echo x >/dev/null && head -c 1 /dev/null | wc -c')
check '[ $rc = 1 ] && [ "$(vfield "$vol" state)" = available ] && [ "$(vfield "$vol" instance)" = null ] && [ "$null" = "character special file 1:3" ] && [ "$nullrw" = 0 ]' \
	"attach as \"null\" (a node the instance has): refused, undone at the card (the volume is available), /dev/null untouched" \
	"attach exit $rc: $out; volume $(vfield "$vol" state) on $(vfield "$vol" instance); /dev/null: $null, write and read: $nullrw"

# 9: hot attach while running. Fails if ATTACH_DISK does not make the node
# and its link in the running instance.
nctl volume attach "$vol" --instance "$ia" --device sdg >/dev/null; rc=$?
got=$(ix "$ia" "[ -b /dev/sdg ] && blockdev --getsize64 /dev/sdg && readlink -f /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$serial && dd if=/dev/sdg bs=64k skip=16 count=16 iflag=direct status=none | sha256sum | cut -d' ' -f1")
want="$((64 * MiB))
/dev/sdg
$(sha256sum <"$w/data" | cut -d' ' -f1)"
check '[ $rc = 0 ] && [ "$got" = "$want" ] && [ "$(vfield "$vol" device)" = sdg ]' \
	"hot attach as sdg while it runs: /dev/sdg and its by-id link appear, with the data" \
	"attach exit $rc; inside: $got"

# 10: stop. Fails if stop detaches the devices, leaves the ENI in the dying
# namespace (it would land in the initial one), or leaves processes or the
# cgroup.
mapfile -t procs < <(cgprocs "$ia")
nctl instance stop "$ia" --force --wait >/dev/null; rc=$?
desc=$(nctl instance describe "$ia" 2>&1)
inA=$(ip -n $NSA -o link | grep -ci "link/ether $macA ") inInit=$(ip -o link | grep -ci "link/ether $macA ")
# Each condition on its own, so that a failure names the one that failed.
why=
[ "$rc" = 0 ] || why+=" stop-exit-$rc"
[ "$(ifield "$ia" state)" = stopped ] || why+=" state-$(ifield "$ia" state)"
[ "$(vfield "$vol" instance)" = "$ia" ] || why+=" volume-on-$(vfield "$vol" instance)"
[ "$(vfield "$vol" state)" = attached ] || why+=" volume-$(vfield "$vol" state)"
[ "$(efield "$ea" instance)" = "$ia" ] || why+=" eni-on-$(efield "$ea" instance)"
grep -q "$vol" <<<"$desc" || why+=" volume-not-in-describe"
grep -q "$ea" <<<"$desc" || why+=" eni-not-in-describe"
[ "$inA" = 1 ] || why+=" netdev-in-host-ns-$inA"
[ "$inInit" = 0 ] || why+=" netdev-in-initial-ns-$inInit"
left=$(alive "${procs[@]}")
[ -z "$left" ] || why+=" processes-left:$left"
[ ! -e "/sys/fs/cgroup/nitro/$ia" ] || why+=" cgroup-left"
[ ${#procs[@]} -gt 0 ] || why+=" no-processes-seen-before"
check '[ -z "$why" ]' \
	"stop: stopped, the EBS volume and the ENI stay attached; the ENI's netdev is back in host A's namespace; its ${#procs[@]} processes and its cgroup are gone" \
	"failed:$why; describe: $(tr '\n' ';' <<<"$desc")"

# 11: start again. Fails if START ignores the instance's devices or does
# not run the image again.
nctl instance start "$ia" --wait >/dev/null; rc=$?
old=$pa
launched "$ia"
pa=${P[$ia]}
con=$(nctl instance console "$ia" 2>&1)
iput "$ia" cli.py "$w/cli.py"
again=$(ix "$ia" 'dd if=/dev/sdg bs=64k skip=16 count=16 iflag=direct status=none | sha256sum | cut -d" " -f1; ip -o -4 addr show dev eth0; python3 -S /tmp/agent/cli.py 10.4.0.2 7000 again' 90)
check '[ $rc = 0 ] && [ "$pa" != "$old" ] && [ "$(grep -c "^agent-up $ia" <<<"$con")" = 1 ] && [ "$(head -1 <<<"$again")" = "$(sha256sum <"$w/data" | cut -d" " -f1)" ] && grep -q "inet 10.4.0.1/32 " <<<"$again" && [ "$(tail -1 <<<"$again")" = echo:again ]' \
	"start: the image runs again (pid $pa) with /dev/sdg and its data, eth0 and its address, and reaches ib" \
	"start exit $rc, pid $pa (was $old); console: $con; inside: $again"

# 12-13: a second ENI, hot. Fails if ATTACH_NIC or DETACH_NIC is not carried
# out in the running instance.
e2=$(nctl eni create --host "$hA" --vpc 42 --ip 10.4.0.11 | awk '/^eni-/ { print $1 }')
enis+=("$e2")
mac2=$(efield "$e2" mac)
nctl eni attach "$e2" --instance "$ia" --index 1 >/dev/null; rc=$?
eth1=$(ix "$ia" 'ip -o link show dev eth1')
check '[ $rc = 0 ] && grep -Eqi "^[0-9]+: eth1: <[^>]*\bUP\b.*link/ether $mac2 " <<<"$eth1" && [ "$(efield "$e2" device)" = eth1 ] && [ "$(efield "$e2" instance)" = "$ia" ] && [ "$(efield "$e2" delete_on_termination)" = false ]' \
	"ENI hot attach --index 1: eth1 appears in the running instance, up, with the ENI's MAC" \
	"attach exit $rc; inside: $eth1; ENI device $(efield "$e2" device), instance $(efield "$e2" instance)"
nctl eni detach "$e2" >/dev/null; rc=$?
after=$(ix "$ia" 'ip -o link' | ifnames)
check '[ $rc = 0 ] && [ "$after" = "lo eth0 " ] && [ "$(efield "$e2" state)" = available ] && [ "$(efield "$e2" instance)" = null ]' \
	"ENI hot detach: eth1 leaves the instance, the ENI is available" \
	"detach exit $rc; interfaces inside: $after; ENI $(efield "$e2" state), instance $(efield "$e2" instance)"

# 14: detach under I/O. A dd loop writes to /dev/sdg; the detach ends it
# with an I/O error inside. Fails if the detach hangs or fails, the writer
# hangs, or the kernel complains.
hd=$(host_disk "$vol")
w0=$(awk '{ print $5 }' "/sys/block/$hd/stat" 2>/dev/null)
ix "$ia" '( i=0; while dd if=/dev/zero of=/dev/sdg bs=64k count=64 seek=512 oflag=direct status=none 2>>/tmp/agent/dd.err; do i=$((i + 1)); done; echo "ended after $i rounds" >/tmp/agent/dd.end ) >/dev/null 2>&1 &' >/dev/null
for _ in $(seq 150); do [ "$(awk '{ print $5 }' "/sys/block/$hd/stat" 2>/dev/null)" -gt "${w0:-0}" ] 2>/dev/null && break; sleep 0.2; done
busy=$(($(awk '{ print $5 }' "/sys/block/$hd/stat" 2>/dev/null || echo 0) - ${w0:-0}))
m=$(kmsg mark)
timeout 60 "$NITROCTL" volume detach "$vol" >/dev/null; rc=$?
await "/proc/$pa/root/tmp/agent/dd.end" 60; ended=$?
dderr=$(cat "/proc/$pa/root/tmp/agent/dd.err" 2>/dev/null)
bad=$(kmsg since "$m" | grep -E "$KLOG_BAD")
check '[ $busy -gt 0 ] && [ $rc = 0 ] && [ $ended = 0 ] && [ -n "$dderr" ] && [ "$(vfield "$vol" state)" = available ] && [ "$(ix "$ia" "echo alive")" = alive ] && [ -z "$bad" ]' \
	"detach under a dd loop inside: the detach returns, dd ends with an error ($(head -1 <<<"$dderr")), the volume is available, the instance goes on, the kernel log is clean" \
	"$busy writes before the detach; detach exit $rc; writer ended: $([ $ended = 0 ] && cat "/proc/$pa/root/tmp/agent/dd.end" || echo no); dd said: $dderr; kernel: $bad"

# 15: nitrod.large's instance store. Fails if START does not give the
# instance its sdb (and by-id link), or the store does not start out zero.
idl=$(irun --type nitrod.large --host "$hA" --name inst-d --timeout 60 -- /bin/sh -c "$agent" agent-idl)
[ -n "$idl" ] && insts+=("$idl")
launched "$idl"
pd=${P[$idl]} ud=$(uid_of "${P[$idl]}")
isvol=$(nctl volume list --json | jx "[v[\"id\"] for v in d if v.get(\"instance\") == \"$idl\"][0]")
isj=$(nctl volume show "$isvol" --json 2>&1)
issum=$(jx '"|".join(map(str, (d["kind"], d["device"], d["delete_on_termination"], d["size_bytes"])))' <<<"$isj")
yes NITRO-STORE-MARKER | head -c 4096 >"$w/m4k"
iput "$idl" m4k "$w/m4k"
store=$(ix "$idl" "blockdev --getsize64 /dev/sdb; readlink -f /dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_vol${isvol#vol-}; dd if=/dev/sdb bs=1M count=4 iflag=direct status=none | cmp -s -n 4194304 - /dev/zero && echo zeros")
check '[ "$issum" = "instance|sdb|True|1073741824" ] && [ "$store" = "1073741824
/dev/sdb
zeros" ]' \
	"nitrod.large ($idl): its instance store $isvol is /dev/sdb inside (1 GiB, by-id link), reads zeros when new" \
	"volume: $isj; inside: $store"

# 16: two instances on one host. Fails if they share a PID, mount or
# network namespace, or a hypervisor gives one the other's disk.
iput "$idl" srv.py "$w/srv.py"
ix "$idl" "echo s3cr3t >/tmp/agent/secret-idl; $(serve 7001)" >/dev/null
look='echo "own=$(cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" " " | grep -c "agent-$1 ")"
echo "other=$(cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" " " | grep -c "agent-$2 ")"
echo "files=$(find /tmp /home /run /dev -name "secret-*" 2>/dev/null | tr "\n" " ")$(ls /proc/$3/root/tmp/agent 2>/dev/null)"
echo "disks=$(find /dev -type b | sort | tr "\n" " ")"
echo "listen=$(ss -Htln | grep -c ":7001 ")"'
va=$(ix "$ia" "set -- 'i[a]' 'id[l]' $pd; $look")
vd=$(ix "$idl" "set -- 'id[l]' 'i[a]' $pa; $look")
check '[ "$va" = "own=1
other=0
files=
disks=
listen=0" ] && [ "$vd" = "own=1
other=0
files=/tmp/agent/secret-idl 
disks=/dev/sdb 
listen=1" ] && [ "$ua" != "$ud" ] && [ "$(readlink "/proc/$pa/ns/net")" != "$(readlink "/proc/$pd/ns/net")" ]' \
	"ia and idl on host A do not see each other: processes, files, disks (idl has only sdb, ia none), network (idl listens on 7001; not in ia's stack); uids $ua and $ud" \
	"ia: $(tr '\n' ';' <<<"$va") idl: $(tr '\n' ';' <<<"$vd")"

# 17: stop wipes the instance store. Fails if the controller does not wipe
# it, or the hypervisor gives the restarted instance the old disk.
mk=$(ix "$idl" 'for b in 256 262143; do dd if=/tmp/agent/m4k of=/dev/sdb bs=4096 seek=$b count=1 oflag=direct conv=fsync status=none && dd if=/dev/sdb bs=4096 skip=$b count=1 iflag=direct status=none | cmp -s - /tmp/agent/m4k && echo "marker at $b"; done')
m=$(kmsg mark)
nctl instance stop "$idl" --force --wait >/dev/null; rc=$?
wl=$(kmsg since "$m")
nctl instance start "$idl" --wait >/dev/null; rc2=$?
launched "$idl"
z=$(ix "$idl" 'dd if=/dev/sdb bs=1M count=4 iflag=direct status=none | cmp -s -n 4194304 - /dev/zero && echo head; dd if=/dev/sdb bs=4096 skip=262143 count=1 iflag=direct status=none | cmp -s -n 4096 - /dev/zero && echo tail')
check '[ "$mk" = "marker at 256
marker at 262143" ] && [ $rc = 0 ] && [ $rc2 = 0 ] && grep -q "$isvol wiped: key destroyed" <<<"$wl" && [ "$z" = "head
tail" ] && [ "$(vfield "$isvol" device)" = sdb ]' \
	"instance store: markers written, stop and start: reads zeros again (head and last block), dmesg says $isvol wiped" \
	"markers: $mk; stop $rc, start $rc2; kernel: $(grep "$isvol" <<<"$wl"); zeros inside: $z"

# 18: terminate deletes the instance store. Fails if terminate leaves it.
nctl instance terminate "$idl" --wait >/dev/null; rc=$?
vl=$(nctl volume list --json)
check '[ $rc = 0 ] && [ "$(ifield "$idl" state)" = terminated ] && [ "$(jx "[v for v in d if v[\"id\"] == \"$isvol\" or v.get(\"instance\") == \"$idl\"]" <<<"$vl")" = "[]" ] && [ ! -e "/sys/fs/cgroup/nitro/$idl" ]' \
	"terminate of nitrod.large: terminated, its instance store deleted" \
	"terminate exit $rc, state $(ifield "$idl" state); volumes: $vl"

# 19: terminate. Fails if a device is left attached, the --new-eni ENI is
# not deleted, or the others are deleted.
nctl volume attach "$vol" --instance "$ia" --device sdf >/dev/null
nctl eni attach "$e2" --instance "$ia" --index 1 >/dev/null
mapfile -t procs < <(cgprocs "$ia")
nctl instance terminate "$ia" --wait >/dev/null; rc=$?
el=$(nctl eni list --json)
check '[ $rc = 0 ] && [ "$(ifield "$ia" state)" = terminated ] && [ "$(vfield "$vol" state)" = available ] && [ "$(vfield "$vol" instance)" = null ] && [ "$(jx "[e for e in d if e[\"id\"] == \"$ea\"]" <<<"$el")" = "[]" ] && [ "$(efield "$e2" state)" = available ] && [ -z "$(alive "${procs[@]}")" ] && [ ! -e "/sys/fs/cgroup/nitro/$ia" ]' \
	"terminate: the EBS volume and the second ENI are detached and available, the ENI run made is deleted, the processes and the cgroup are gone" \
	"terminate exit $rc, state $(ifield "$ia" state); volume $(vfield "$vol" state) on $(vfield "$vol" instance); ENIs: $el"

# 20: the image exits. Fails if the hypervisor's SIGCHLD does not interrupt
# its wait (SA_RESTART) or it does not report the exit.
is=$(nctl instance create --type nitro.micro --host "$hA" --name inst-exit -- \
	/bin/sh -c 'echo "bye from $(uname -n)"; sleep 1; exit 0' | awk '/^i-/ { print $1 }')
[ -n "$is" ] && insts+=("$is")
nctl instance start "$is" >/dev/null
nctl instance wait "$is" stopped --timeout 60 >/dev/null; rc=$?
check '[ $rc = 0 ] && [ "$(ifield "$is" reason)" = instance-initiated-shutdown ] && nctl instance console "$is" | grep -q "^bye from $is" && [ ! -e "/sys/fs/cgroup/nitro/$is" ]' \
	"an image that exits: its instance stops by itself, reason instance-initiated-shutdown; its console kept, its cgroup gone" \
	"wait exit $rc; describe: $(nctl instance describe "$is" --json 2>&1)"

# 21: nitro-hv B is killed, with ib running and ib2 shutting down (its
# init ignores SIGTERM: the 5 s grace period holds it there). Fails if the
# instances' processes outlive their hypervisor (nothing ties them to it),
# or the controller does not mark them.
ib2=$(irun --type nitro.micro --host "$hB" --name inst-b2 --timeout 60 -- /bin/sh -c "$agent" agent-ib2)
[ -n "$ib2" ] && insts+=("$ib2")
launched "$ib2"
mapfile -t procs < <(cgprocs "$ib"; cgprocs "$ib2")
# terminate prints "ID STATE": no other round trip inside the grace period.
st2=$(nctl instance terminate "$ib2" | awk '{ print $2 }')
hv_signal b KILL
nctl instance wait "$ib" stopped --timeout 30 >/dev/null; rc=$?
nctl instance wait "$ib2" terminated --timeout 30 >/dev/null; rc2=$?
gone "${procs[@]}"; grc=$?
check '[ $rc = 0 ] && [ "$(ifield "$ib" reason)" = hypervisor-lost ] && [ "$st2" = shutting-down ] && [ $rc2 = 0 ] && [ $grc = 0 ] && [ ${#procs[@]} -gt 1 ] && [ "$(efield "$eb" instance)" = "$ib" ]' \
	"SIGKILL to nitro-hv B: running ib is stopped (hypervisor-lost), shutting-down ib2 terminated; their ${#procs[@]} processes die with it; ib's ENI stays attached" \
	"ib: wait exit $rc, reason $(ifield "$ib" reason); ib2: $st2 before, wait exit $rc2, now $(ifield "$ib2" state); left: $(alive "${procs[@]}")"

# 22-23: a new hypervisor. Fails if the old registration is not released,
# or if the new one cannot start the instance (a cgroup left behind, the
# ENI's netdev lost with the namespace).
hv_start b "$hB" -; rc=$?
check '[ $rc = 0 ]' "a new nitro-hv registers for host B" "$(tail -5 "$w/hv-b.log" 2>/dev/null)"
nctl instance start "$ib" --wait >/dev/null; rc=$?
launched "$ib"
eth0=$(ix "$ib" 'ip -o link show dev eth0; ip -o -4 addr show dev eth0')
check '[ $rc = 0 ] && grep -qi "link/ether $macB " <<<"$eth0" && grep -q "inet 10.4.0.2/32 " <<<"$eth0"' \
	"the new nitro-hv starts ib again, with its ENI as eth0" \
	"start exit $rc, state $(ifield "$ib" state); inside: $eth0; ENI netdev in nib: $(ip -n $NSB -o link | grep -ci "$macB"), in the initial namespace: $(ip -o link | grep -ci "$macB")"

# 24: SIGTERM to nitro-hv A. Fails if it does not end its instances before
# it exits, leaves their cgroups, or exits with an error.
ie=$(irun --type nitro.micro --host "$hA" --name inst-e --timeout 60 -- /bin/sh -c "$agent" agent-ie)
[ -n "$ie" ] && insts+=("$ie")
launched "$ie"
mapfile -t procs < <(cgprocs "$ie")
hv_signal a TERM; hrc=$?
nctl instance wait "$ie" stopped --timeout 30 >/dev/null; rc=$?
check '[ $hrc = 0 ] && [ ${#procs[@]} -gt 0 ] && [ -z "$(alive "${procs[@]}")" ] && [ ! -e "/sys/fs/cgroup/nitro/$ie" ] && [ $rc = 0 ]' \
	"SIGTERM to nitro-hv A: it stops its instance's ${#procs[@]} processes, removes its cgroup and exits 0; the instance is stopped" \
	"nitro-hv exit $hrc; left: $(alive "${procs[@]}"); cgroup $([ -e "/sys/fs/cgroup/nitro/$ie" ] && echo present || echo gone); state $(ifield "$ie" state)"

# 25: the kernel log of the whole run.
bad=$(kmsg since "$log0" | grep -E "$KLOG_BAD")
check '[ -z "$bad" ]' "kernel log clean (no oops, warning, lockdep splat)" "$(head -40 <<<"$bad")"

ktap_done
