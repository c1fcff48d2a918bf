#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# cli: nitroctl over the whole control plane (with nitro_testcard, left
# loaded by objects.sh), what happens to objects whose card leaves, the
# limits (ENOSPC), that the control plane sends nothing anywhere, and the
# real EBS card's answer to provisioning without its key. Leaves the four real modules loaded.
source "$(dirname "$0")/../lib.sh"

ktap_header 26
N=$NITROCTL
js() { python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }
testcard=$top/selftests/nitro_testcard/nitro-testcard.ko
loaded nitro_testcard || insmod "$testcard"

out=$($N volume create --kind ebs --size 8G --name cli-web); rc=$?
vol=$(awk '{print $1}' <<<"$out")
ok '[ $rc = 0 ] && [[ $vol =~ ^vol-0[0-9a-f]{16}$ ]] && grep -q " created$" <<<"$out"' "volume create prints the new id ($vol)"
ok '$N volume list | grep -Eq "^$vol +ebs +available +8 GiB +4096 +- +cli-web +nitro_testcard.ebs0$"' "volume list (table)"
ok '$N volume attach $vol sdf >/dev/null && $N volume list --json | js "[v for v in d if v[\"id\"] == \"$vol\"][0][\"device\"] == \"sdf\""' "volume attach, list --json shows the device"
out=$($N volume delete $vol 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "volume $vol is attached as sdf; detach it first" <<<"$out"' "delete of an attached volume: exit 1, says to detach first"
out=$($N volume attach $vol sdg 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "already attached as sdf" <<<"$out"' "attach of an attached volume says where it is attached"
ok '$N volume show $vol | grep -q "^state  *attached$" && $N volume show $vol --json | js "d[\"name\"] == \"cli-web\" and d[\"size_bytes\"] == 8 << 30"' "volume show (human and --json)"
ok '$N volume detach $vol >/dev/null && $N volume delete $vol >/dev/null' "volume detach and delete"
out=$($N volume show $vol 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "no volume $vol on this host" <<<"$out"' "show of a deleted volume: exit 1, says it is not on this host"
out=$($N volume show sdf 2>&1); rc=$?
ok '[ $rc = 2 ] && grep -q "is not an id" <<<"$out"' "a malformed id is a usage error (exit 2)"
out=$($N volume create --kind ebs --size 1000 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "rejected the arguments" <<<"$out"' "a size that is not a multiple of the block size: exit 1 (EINVAL)"

out=$($N eni create --vpc 42 --ip 10.1.0.9 --name cli-eni); rc=$?
eni=$(awk '{print $1}' <<<"$out")
ok '[ $rc = 0 ] && [[ $eni =~ ^eni-0[0-9a-f]{16}$ ]]' "eni create prints the new id"
out=$($N eni create --vpc 42 --ip 10.1.0.9 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "already has that name or address" <<<"$out"' "eni create with a taken address: exit 1, explained"
out=$($N eni attach $eni); rc=$?
ok '[ $rc = 0 ] && grep -q "attached as nteth" <<<"$out" && $N eni list | grep -Eq "^$eni +42 +attached +[0-9a-f:]{17} +10.1.0.9 +nteth[0-9]+ +cli-eni"' "eni attach (card-named interface) and list"
ok '$N eni show $eni --json | js "d[\"vpc\"] == 42 and d[\"ipv4\"] == \"10.1.0.9\"" && $N eni detach $eni >/dev/null && $N eni delete $eni >/dev/null' "eni show --json, detach, delete"

vol=$($N volume create --kind instance --size 1G | awk '{print $1}')
$N volume attach $vol xvdb >/dev/null
ok '$N metrics | grep -Eq "^$vol +2 " && $N metrics --json | js "any(c[\"what\"] == \"nitro_testcard.ebs0\" for c in d[\"cards\"])"' "metrics (human and --json) pull per-volume and per-card counters"
out=$($N metrics --watch 1 --count 2 --json); rc=$?
ok '[ $rc = 0 ] && [ $(wc -l <<<"$out") = 2 ]' "metrics --watch --count 2 --json prints two snapshots"
ok '$N audit | grep -Eq " volume-attach +$vol +ok$" && $N audit --json | js "any(a[\"op\"] == \"volume-delete\" and a[\"result\"] == \"EBUSY\" for a in d)"' "audit shows attaches and the refused delete"

# The controller is passive: a control-plane run sends no packet anywhere.
# Ten rounds of every control-plane verb (each nitroctl run costs about a
# second in the TCG guest with the debug kernel's memcg, KASAN and lockdep).
tx() { awk 'NR > 2 { sub(/^ */, ""); split($0, f, /[: ]+/); s += f[11] } END { print s + 0 }' /proc/net/dev; }
before=$(tx)
for i in $(seq 1 10); do
	v=$($N volume create --kind ebs --size 1G | awk '{print $1}')
	$N volume attach $v "sdq" >/dev/null && $N volume detach $v >/dev/null && $N volume delete $v >/dev/null
	$N status >/dev/null; $N metrics >/dev/null
done
after=$(tx)
ok '[ "$before" = "$after" ] && ! grep -q nitro /proc/net/udp /proc/net/tcp 2>/dev/null' "10 rounds of create/attach/detach/delete: interface TX counters unchanged ($before -> $after), no sockets"

# A card that leaves: its objects are marked lost, only delete works.
mark_log
rmmod nitro_testcard
ok '! loaded nitro_testcard && new_log | grep -q "objects lost their card"' "the test card unloads with objects on it; dmesg says they lost their card"
ok '$N volume list | grep -q "card-lost" && ! $N volume list | grep -Eq "attached|available"' "its volumes show as card-lost"
out=$($N volume detach $vol 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "left the bus; only delete works" <<<"$out"' "detach of a card-lost volume: exit 1, explained"
for v in $($N volume list --json | python3 -c 'import json,sys; print(" ".join(v["id"] for v in json.load(sys.stdin)))'); do
	$N volume delete $v >/dev/null
done
ok '[ "$($N volume list --json)" = "[]" ]' "card-lost volumes can be deleted"
ok '! dmesg | grep -q "nitro_testcard: protocol violation"' "the test card saw no protocol violation from the controller"

# Limits: reload the controller with tiny ones.
unload_all
out=$(insmod "$(ko_path nitro_ctrl)" max_volumes=0 2>&1); rc=$?
ok '[ $rc != 0 ] && ! loaded nitro_ctrl' "max_volumes=0 is refused at load"
insmod "$(ko_path nitro_ctrl)" max_volumes=2 max_enis=1 && load nitro_sec && insmod "$testcard" && open_gate
$N volume create --kind ebs --size 1G >/dev/null; $N volume create --kind ebs --size 1G >/dev/null
out=$($N volume create --kind ebs --size 1G 2>&1); rc=$?
$N eni create --vpc 1 --ip 10.0.0.1 >/dev/null
out2=$($N eni create --vpc 1 --ip 10.0.0.2 2>&1); rc2=$?
ok '[ $rc = 1 ] && grep -q "maximum of 2 volumes" <<<"$out" && [ $rc2 = 1 ] && grep -q "maximum of 1 ENIs" <<<"$out2"' "past max_volumes and max_enis: ENOSPC, explained"
rmmod nitro_testcard && rmmod nitro_sec && rmmod nitro_ctrl
load_all && open_gate

# The real EBS card without its card key (none installed here): a clear
# answer, nothing recorded. (selftests/nitro_nvme/ebs.sh gives it one.)
truncate -s 1G /tmp/cli-backing && head -c 100 /dev/zero >/tmp/cli-wrapped
out=$($N volume create --kind ebs --size 1G --backing /tmp/cli-backing --wrapped-key /tmp/cli-wrapped 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "the EBS card has no card key" <<<"$out" && [ "$($N volume list --json)" = "[]" ]' "with the real block card and no card key: EBS create refused (ENOKEY), explained, nothing recorded"
rm -f /tmp/cli-backing /tmp/cli-wrapped

ktap_done
