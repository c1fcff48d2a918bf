#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# instance_abi: runs instance_abi (the controller's instances and its
# hypervisor channel, with a scripted hypervisor) against the real cards:
# two VPC card hosts in namespaces, the instance-storage card. Leaves the
# real modules loaded, with no host.
source "$(dirname "$0")/../lib.sh"

loaded nitro_testcard && rmmod nitro_testcard
kmod veth
load_all && open_gate || { echo "1..1"; echo "not ok 1 modules and gate"; exit 1; }
for ns in ia ib; do ip netns del "$ns" 2>/dev/null; ip netns add "$ns"; done
ip -n ia link add u0 type veth peer name u0 netns ib
ip -n ia addr add 192.0.2.51/24 dev u0 && ip -n ia link set u0 up
ip -n ib addr add 192.0.2.52/24 dev u0 && ip -n ib link set u0 up
ha=$(ip netns exec ia "$NITROCTL" host create --underlay 192.0.2.51)
hb=$(ip netns exec ib "$NITROCTL" host create --underlay 192.0.2.52)
"$(dirname "$0")/instance_abi" "$ha" "$hb"
rc=$?
"$NITROCTL" host delete "$ha" >/dev/null
"$NITROCTL" host delete "$hb" >/dev/null
for ns in ia ib; do ip netns del "$ns"; done
exit $rc
