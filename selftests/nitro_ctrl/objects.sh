#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# objects: runs ctrl_objects against the test double card. The real block
# and VPC cards do not answer provisioning requests yet, so they make room
# for nitro_testcard, which stays loaded for cli.sh (which restores them).
# The boot gate is opened first (selftests/nitro_sec covers it).
source "$(dirname "$0")/../lib.sh"

for m in nitro_net nitro_nvme; do
	if loaded "$m"; then rmmod "$m" || exit 1; fi
done
load nitro_ctrl && load nitro_sec || exit 1
loaded nitro_testcard || insmod "$(ko_path nitro_testcard)" || exit 1
open_gate || exit 1
exec "$(dirname "$0")/ctrl_objects"
