#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# firmware: the security chip measures the real firmware (checked against a
# recomputation from userspace), measurements are reproducible across
# reloads, the boot gate holds the cards back until the allowlist matches
# (the known-good list is computed from userspace, never taken from the
# chip's own answers),
# a mismatch or an empty allowlist quarantines the host (naming the
# component), reloading the chip re-measures and closes the gate, and every
# firmware write is refused, counted and audited.
source "$(dirname "$0")/../lib.sh"

ktap_header 21
N=$NITROCTL
js() { python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }
testcard=$(ko_path nitro_testcard)
here=$(cd "$(dirname "$0")" && pwd)
reload_sec() { rmmod nitro_sec && insmod "$(ko_path nitro_sec)"; }

# The test card stands in for the block card so that provisioning can be tried.
for m in nitro_net nitro_nvme; do loaded "$m" && rmmod "$m"; done
load_all_but_cards() { load nitro_ctrl && load nitro_sec; }
load_all_but_cards
loaded nitro_testcard || insmod "$testcard"
reload_sec

fw=$($N firmware show --json)
ok 'js "d[\"gate\"] == \"closed\" and d[\"log\"][0][\"component\"] == \"bios-rom\" and any(c[\"component\"] == \"acpi/DSDT\" for c in d[\"log\"]) and any(c[\"component\"] == \"smbios/DMI\" for c in d[\"log\"]) and len(d[\"registers\"]) == 3" <<<"$fw"' \
	"the chip measured the BIOS ROM, the ACPI tables and SMBIOS; gate closed"
out=$(python3 "$here/recompute.py" <<<"$fw"); rc=$?
echo "$out" | sed 's/^/# /'
ok '[ $rc = 0 ]' "every digest and register recomputed from userspace (sysfs, /dev/mem) matches"
ok '$N firmware show | grep -Eq "^0 +bios-rom +0 +65536 +[0-9a-f]{96}$"' "nitroctl firmware show (human)"

logs() { python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["log"]))'; }
log1=$(logs <<<"$fw")
reload_sec
log2=$($N firmware show --json | logs)
ok '[ -n "$log1" ] && [ "$log1" = "$log2" ]' "reloading the chip measures the same digests again"

mark_log
out=$($N volume create --kind ebs --size 1G 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "boot gate is closed" <<<"$out" && new_log | grep -q "boot gate closed, refusing a create: firmware not verified"' \
	"before verification the cards are held back: create refused (EACCES), dmesg names the gate"

# The known-good list, computed from userspace (what a verifier holds).
# A wrong digest quarantines the host and names the component.
python3 "$here/recompute.py" --allowlist >/tmp/good
awk 'NR == 2 { c = substr($1, 1, 1); $1 = (c == "0" ? "1" : "0") substr($1, 2) } { print }' /tmp/good >/tmp/bad
bad_comp=$(sed -n 2p /tmp/bad | awk '{print $2}')
out=$($N firmware allow /tmp/bad 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "quarantined: firmware component $bad_comp does not match" <<<"$out"' "a wrong digest for $bad_comp quarantines the host"
ok '$N status --json | js "d[\"gate\"] == \"quarantined\"" && $N firmware show --json | js "d[\"gate\"] == \"quarantined\" and d[\"failed\"] == \"$bad_comp\""' \
	"status and firmware show say quarantined and name $bad_comp"
out=$($N volume create --kind ebs --size 1G 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "boot gate is closed" <<<"$out"' "quarantined: the cards refuse to provision"
out=$($N firmware allow /tmp/good 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "only reloading nitro_sec" <<<"$out"' "quarantine sticks: a good allowlist is refused (EPERM) until the chip re-measures"

reload_sec
ok '$N status --json | js "d[\"gate\"] == \"closed\""' "reloading nitro_sec re-measures and closes the gate again"
: >/tmp/empty
out=$($N firmware allow /tmp/empty 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "component bios-rom does not match" <<<"$out"' "an empty allowlist quarantines the host (first component named)"

reload_sec
out=$($N firmware allow /tmp/good); rc=$?
ok '[ $rc = 0 ] && grep -q "^boot gate: open" <<<"$out" && $N status --json | js "d[\"gate\"] == \"open\""' "the allowlist computed from userspace (sha384sum lines) opens the gate"
out=$($N volume create --kind ebs --size 1G); rc=$?
vol=$(awk '{print $1}' <<<"$out")
ok '[ $rc = 0 ] && [ -n "$vol" ]' "with the gate open the cards provision"

# Write-deny.
head -c 4096 /dev/zero >/tmp/image
audited() { $N audit --json | python3 -c 'import json,sys; print(sum(1 for a in json.load(sys.stdin) if a["op"] == "firmware-update" and a["result"] == "EPERM"))'; }
denied0=$(audited)
mark_log
out=$($N firmware update /tmp/image 2>&1); rc=$?
out2=$($N firmware update --component acpi/DSDT /tmp/image 2>&1); rc2=$?
ok '[ $rc = 1 ] && [ $rc2 = 1 ] && grep -q "denies every firmware write" <<<"$out" && new_log | grep -q "firmware write refused (write-deny) via the update ioctl, attempt 2"' \
	"firmware updates are refused (EPERM) and logged"
rom=$($N firmware show --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["log"][0]["sha384"])')
ok '[ "$(stat -c %a /dev/nitro_fw)" = 600 ] && [ "$(sha384sum </dev/nitro_fw | cut -d" " -f1)" = "$rom" ]' \
	"the firmware store /dev/nitro_fw (0600) serves exactly the measured ROM"
mark_log
out=$(dd if=/tmp/image of=/dev/nitro_fw bs=4096 count=1 2>&1); rc=$?
ok '[ $rc != 0 ] && grep -q "Operation not permitted" <<<"$out" && new_log | grep -q "firmware write refused (write-deny) via /dev/nitro_fw, attempt 3"' \
	"a write to the firmware store is refused (EPERM) and logged"
out=$(setpriv --bounding-set=-sys_admin "$N" firmware update /tmp/image 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "requires CAP_SYS_ADMIN" <<<"$out" && ! grep -q write-deny <<<"$out"' \
	"without CAP_SYS_ADMIN an update gets EPERM for that reason, and the CLI says so"
ok '$N firmware show --json | js "d[\"write_attempts\"] == 3 and d[\"gate\"] == \"open\""' "refused writes are counted (not the unprivileged one); the gate stays open"
denied=$(audited)
ok '[ "$denied" = $((denied0 + 3)) ]' "the 3 refused writes, ioctl and store, are in the audit log, once each ($denied0 -> $denied)"
ok 'cmp -s <(sort -k 2 /tmp/good) <($N firmware show --allowlist | sort -k 2)' "after the write attempts the chip's log still matches the known-good list"

# A new measurement closes the gate again: attach and every create are
# refused, detach and delete (draining the host) are not.
reload_sec
mark_log
a=$($N volume attach "$vol" sdf 2>&1); ra=$?
e=$($N eni create --vpc 7 --ip 10.0.0.5 2>&1); re=$?
$N volume delete "$vol" >/dev/null; rd=$?
ok '[ $ra = 1 ] && [ $re = 1 ] && [ $rd = 0 ] && grep -q "boot gate is closed" <<<"$a$e" && new_log | grep -q "boot gate closed, refusing an attach"' \
	"gate closed again: attach and ENI create refused (EACCES), delete still allowed"

rmmod nitro_testcard
load_all
ktap_done
