#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# modules: the four modules load and unload cleanly, in any card order and
# any number of times; modprobe orders them by itself once installed; the controller reports what is missing; nitroctl's
# version and status, and its messages when the controller is unavailable.
source "$(dirname "$0")/../lib.sh"

ktap_header 20

status_json() { "$NITROCTL" status --json; }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }

unload_all
ok '[ ! -e /dev/nitro_ctrl ] && ! loaded nitro_ctrl' "all modules unload, the device node goes away"

out=$("$NITROCTL" status 2>&1); rc=$?
ok '[ $rc = 3 ] && grep -q "modprobe nitro_ctrl" <<<"$out"' \
	"nitroctl without the module exits 3 and says to load it"

out=$(insmod "$(ko_path nitro_sec)" 2>&1); rc=$?
ok '[ $rc != 0 ] && ! loaded nitro_sec' "a card does not load without the controller (needs its symbols)"

mark_log
load nitro_ctrl
ok 'loaded nitro_ctrl && [ -c /dev/nitro_ctrl ]' "nitro_ctrl alone loads and creates /dev/nitro_ctrl"
ok 'new_log | grep -q "no security chip on the bus (load nitro_sec)" && new_log | grep -q "no VPC card on the bus (load nitro_net)"' \
	"the controller says in dmesg which cards are missing"
ok 'status_json | jq_py "d[\"gate\"] == \"no-chip\" and d[\"cards\"] == [] and d[\"missing\"] == [\"security\", \"ebs\", \"instance-store\", \"vpc\"]"' \
	"status with no cards: gate no-chip, every kind missing"

mark_log
load nitro_net && load nitro_nvme
ok 'status_json | jq_py "[c[\"name\"] for c in d[\"cards\"]] == [\"nitro_net.vpc0\", \"nitro_nvme.ebs0\", \"nitro_nvme.instance0\"] and d[\"missing\"] == [\"security\"] and d[\"gate\"] == \"no-chip\""' \
	"cards load in any order; only the security chip is missing"
load nitro_sec
ok 'new_log | grep -q "all cards present" && status_json | jq_py "len(d[\"cards\"]) == 4 and d[\"missing\"] == [] and d[\"gate\"] == \"closed\""' \
	"with the security chip the gate is closed (measured, not verified) and dmesg says all cards present"

out=$(rmmod nitro_ctrl 2>&1); rc=$?
ok '[ $rc != 0 ] && loaded nitro_ctrl && [ -c /dev/nitro_ctrl ]' "the controller cannot be unloaded under its cards"

rmmod nitro_nvme
ok 'status_json | jq_py "d[\"missing\"] == [\"ebs\", \"instance-store\"] and len(d[\"cards\"]) == 2"' \
	"a card that unloads leaves the bus"

cycles_ok=1
for i in 1 2 3 4 5; do
	unload_all || cycles_ok=0
	load_all || cycles_ok=0
	status_json | jq_py 'len(d["cards"]) == 4 and d["missing"] == []' || cycles_ok=0
done
ok '[ $cycles_ok = 1 ]' "five full unload/load cycles, all cards back each time"

# Installed (here into a scratch tree), modprobe finds the order itself: the
# cards depend on the controller's symbols, and depmod records that.
unload_all
mods=/tmp/nitro-mods
kver=$(uname -r)
mkdir -p "$mods/lib/modules/$kver/extra"
for m in "${MODULES[@]}"; do cp "$(ko_path "$m")" "$mods/lib/modules/$kver/extra/"; done
# nitro_net needs the kernel's udp_tunnel module: put it in the tree too.
find /tmp/nitro-kernel/.virtme_mods "/lib/modules/$kver" -name 'udp_tunnel.ko*' 2>/dev/null |
	head -1 | xargs -r cp -t "$mods/lib/modules/$kver/extra/"
depmod -b "$mods" "$kver" 2>/dev/null
modprobe -d "$mods" nitro_sec && modprobe -d "$mods" nitro_nvme && modprobe -d "$mods" nitro_net
ok 'grep -q "^extra/nitro-sec.ko: extra/nitro-ctrl.ko$" "$mods/lib/modules/$kver/modules.dep" && status_json | jq_py "len(d[\"cards\"]) == 4"' \
	"modprobe of each card loads the controller first (depmod sees the dependency)"
modprobe -r -d "$mods" nitro_net nitro_nvme nitro_sec
ok '! loaded nitro_sec && ! loaded nitro_ctrl && ! loaded nitro_net' "modprobe -r removes the cards and then the unused controller"
load_all

out=$("$NITROCTL" version); rc=$?
ok '[ $rc = 0 ] && grep -q "^controller ABI 1 (nitroctl built for ABI 1)" <<<"$out" && grep -q "^features: status, volumes, enis, metrics, audit, firmware" <<<"$out"' \
	"nitroctl version (human)"
ok '"$NITROCTL" version --json | jq_py "d[\"abi_version\"] == 1 and \"status\" in d[\"features\"] and d[\"max_cards\"] == 16 and d[\"max_volumes\"] == 16384"' \
	"nitroctl version --json"
out=$("$NITROCTL" status); rc=$?
ok '[ $rc = 0 ] && grep -q "^boot gate: closed" <<<"$out" && grep -Eq "^nitro_nvme.instance0 +instance-store +0 " <<<"$out"' \
	"nitroctl status (human table)"

out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$NITROCTL" status 2>&1); rc=$?
ok '[ $rc = 3 ] && grep -q "run nitroctl as root" <<<"$out"' "nitroctl as an unprivileged user exits 3 and says to run as root"

out=$("$NITROCTL" frobnicate 2>&1); rc=$?
ok '[ $rc = 2 ]' "nitroctl usage error exits 2"

out=$("$NITROCTL" --device /nonexistent status 2>&1); rc=$?
ok '[ $rc = 3 ] && grep -q "devtmpfs" <<<"$out"' "nitroctl with a missing node (module loaded) exits 3 and names the likely cause"

out=$("$top/samples/nitro_version"); rc=$?
ok '[ $rc = 0 ] && grep -q "^nitro_ctrl ABI 1 (header ABI 1), features 0x3ff" <<<"$out"' \
	"the C sample reads the version through the ABI header"

ktap_done
