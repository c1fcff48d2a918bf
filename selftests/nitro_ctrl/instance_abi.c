// SPDX-License-Identifier: GPL-2.0
/*
 * instance_abi: the controller's instances and its command channel to the
 * hypervisors, driven through the ABI with a scripted hypervisor (a thread
 * of this program on its own descriptor), against the real VPC card:
 * instance_abi.sh makes the host (number in argv[1], ENI on another host in
 * argv[2]) before running it. Lifecycle and every transition EC2 refuses,
 * the commands the hypervisor gets, launch failures, an instance that
 * shuts itself down, the hypervisor going away mid-command, the terminated
 * ring, hot attach of ENIs, the console, types and bad input.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <linux/nitro.h>
#include "kselftest.h"

#define MIB (1ULL << 20)

static int fd;
static __u32 host, other_host;

static int xioctl(int f, unsigned long cmd, void *arg)
{
	return ioctl(f, cmd, arg) < 0 ? -errno : 0;
}

/* The scripted hypervisor: answers each command as the script says. */
struct hv {
	int fd;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
	/* The script: the errno to answer the next command of an op with. */
	int fail[8];
	/* Hold commands of this op until released (0: none). */
	__u32 hold_op;
	int held;
	/* Instance ids to report as exited with the next NEXT. */
	__u64 exited[4];
	__u32 nexited;
	/* What it got. */
	struct nitro_hv_command last[8];
	struct nitro_hv_device last_dev[8];
	char last_args[8][256];
	__u32 last_args_len[8];
	int count[8];
	__u64 seq_done;
};

static struct hv hv;

static void *hv_loop(void *arg)
{
	static struct nitro_hv_device devs[NITRO_HV_DEVICES_MAX];
	static char args[NITRO_COMMAND_MAX];
	struct hv *h = arg;

	(void)arg;
	for (;;) {
		struct nitro_hv_command c = { .size = sizeof(c), .timeout_ms = 100,
					      .devices = (uintptr_t)devs, .args = (uintptr_t)args };
		struct nitro_hv_result r = { .size = sizeof(r), .cpu_stat_fd = -1, .memory_fd = -1,
					     .memory_peak_fd = -1 };
		int rc;

		pthread_mutex_lock(&h->lock);
		if (h->stop) {
			pthread_mutex_unlock(&h->lock);
			return NULL;
		}
		c.exited = (uintptr_t)h->exited;
		c.nexited = h->nexited;
		h->nexited = 0;
		pthread_mutex_unlock(&h->lock);
		rc = xioctl(h->fd, NITRO_IOC_HV_NEXT, &c);
		if (rc == -ETIMEDOUT || rc == -EINTR)
			continue;
		if (rc) {
			ksft_print_msg("hypervisor: NEXT: %s\n", strerror(-rc));
			return NULL;
		}
		pthread_mutex_lock(&h->lock);
		if (c.op < 8) {
			h->last[c.op] = c;
			if (c.ndevices)
				h->last_dev[c.op] = devs[0];
			memcpy(h->last_args[c.op], args, c.args_len < 256 ? c.args_len : 256);
			h->last_args_len[c.op] = c.args_len;
			h->count[c.op]++;
			r.error = h->fail[c.op];
			h->fail[c.op] = 0;
		}
		while (h->hold_op == c.op && !h->stop) {
			h->held = 1;
			pthread_cond_broadcast(&h->cond);
			pthread_cond_wait(&h->cond, &h->lock);
		}
		h->held = 0;
		if (h->stop) {
			/* Told to go while holding a command: it dies unanswered. */
			pthread_mutex_unlock(&h->lock);
			return NULL;
		}
		pthread_mutex_unlock(&h->lock);
		r.seq = c.seq;
		if (c.op == NITRO_HV_START && !r.error)
			r.pid = 4242;
		if (c.op == NITRO_HV_CONSOLE && !r.error) {
			static const char out[] = "booted\nhello from the instance\n";

			r.buf = (uintptr_t)out;
			r.len = sizeof(out) - 1;
		}
		rc = xioctl(h->fd, NITRO_IOC_HV_DONE, &r);
		if (rc)
			ksft_print_msg("hypervisor: DONE: %s\n", strerror(-rc));
		pthread_mutex_lock(&h->lock);
		h->seq_done = c.seq;
		pthread_cond_broadcast(&h->cond);
		pthread_mutex_unlock(&h->lock);
	}
}

static int hv_start(void)
{
	struct nitro_hv_register r = { .size = sizeof(r), .host = host };
	int rc;

	memset(&hv, 0, sizeof(hv));
	pthread_mutex_init(&hv.lock, NULL);
	pthread_cond_init(&hv.cond, NULL);
	hv.fd = open("/dev/nitro_ctrl", O_RDWR);
	if (hv.fd < 0)
		return -errno;
	rc = xioctl(hv.fd, NITRO_IOC_HV_REGISTER, &r);
	if (rc)
		return rc;
	return -pthread_create(&hv.thread, NULL, hv_loop, &hv);
}

/* Stops the hypervisor: its thread, then (closing the file) its registration. */
static void hv_end(void)
{
	pthread_mutex_lock(&hv.lock);
	hv.stop = 1;
	pthread_cond_broadcast(&hv.cond);
	pthread_mutex_unlock(&hv.lock);
	pthread_join(hv.thread, NULL);
	close(hv.fd);
}

static void hv_script(__u32 op, int error)
{
	pthread_mutex_lock(&hv.lock);
	hv.fail[op] = error;
	pthread_mutex_unlock(&hv.lock);
}

static void hv_hold(__u32 op)
{
	pthread_mutex_lock(&hv.lock);
	hv.hold_op = op;
	pthread_cond_broadcast(&hv.cond);
	pthread_mutex_unlock(&hv.lock);
}

/* Waits until the hypervisor holds a command (1) or 5 s pass (0). */
static int hv_wait_held(void)
{
	struct timespec t;
	int held;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += 5;
	pthread_mutex_lock(&hv.lock);
	while (!hv.held && pthread_cond_timedwait(&hv.cond, &hv.lock, &t) == 0)
		;
	held = hv.held;
	pthread_mutex_unlock(&hv.lock);
	return held;
}

static void hv_report_exit(__u64 id)
{
	pthread_mutex_lock(&hv.lock);
	hv.exited[hv.nexited++] = id;
	pthread_mutex_unlock(&hv.lock);
}

static int count(__u32 op)
{
	int n;

	pthread_mutex_lock(&hv.lock);
	n = hv.count[op];
	pthread_mutex_unlock(&hv.lock);
	return n;
}

static int create(const char *type, const char *name, __u32 h, const char *cmd, __u32 cmd_len,
		  __u32 flags, __u64 *id)
{
	struct nitro_instance_create c = { .size = sizeof(c), .flags = flags, .host = h,
					   .command = (uintptr_t)cmd, .command_len = cmd_len };
	int rc;

	snprintf(c.type, sizeof(c.type), "%s", type);
	if (name)
		snprintf(c.name, sizeof(c.name), "%s", name);
	rc = xioctl(fd, NITRO_IOC_INSTANCE_CREATE, &c);
	if (id)
		*id = rc ? 0 : c.id;
	return rc;
}

static const char CMD[] = "/bin/sh\0-c\0echo hi\0";
#define CMD_LEN (sizeof(CMD) - 1)

static int run(const char *type, const char *name, __u64 *id)
{
	return create(type, name, host, CMD, CMD_LEN, NITRO_INSTANCE_START, id);
}

static int op(unsigned long cmd, __u64 id, __u32 flags, __u32 *state)
{
	struct nitro_instance_op o = { .size = sizeof(o), .id = id, .flags = flags };
	int rc = xioctl(fd, cmd, &o);

	if (state)
		*state = rc ? ~0U : o.state;
	return rc;
}

static int describe(__u64 id, struct nitro_instance_info *info)
{
	struct nitro_instance_describe d = { .size = sizeof(d), .id = id };
	int rc = xioctl(fd, NITRO_IOC_INSTANCE_DESCRIBE, &d);

	if (info)
		*info = d.info;
	return rc;
}

static __u32 state_of(__u64 id)
{
	struct nitro_instance_info i;

	return describe(id, &i) ? ~0U : i.state;
}

static int wait_for(__u64 id, __u32 states, __u32 timeout_ms)
{
	struct nitro_instance_wait w = { .size = sizeof(w), .id = id, .states = states,
					 .timeout_ms = timeout_ms };

	return xioctl(fd, NITRO_IOC_INSTANCE_WAIT, &w);
}

#define BIT(s) NITRO_STATE_BIT(NITRO_INSTANCE_##s)

static int eni_make(__u32 h, const char *ip, __u64 *id)
{
	struct nitro_eni_create c = { .size = sizeof(c), .vpc = 77, .host = h };
	int rc;

	inet_pton(AF_INET, ip, &c.ipv4);
	rc = xioctl(fd, NITRO_IOC_ENI_CREATE, &c);
	*id = rc ? 0 : c.id;
	return rc;
}

static int eni_attach(__u64 eni, __u64 inst, __u32 index, __u32 flags, char *used)
{
	struct nitro_attach a = { .size = sizeof(a), .id = eni, .instance = inst, .index = index,
				  .flags = flags };
	int rc = xioctl(fd, NITRO_IOC_ENI_ATTACH, &a);

	if (used)
		snprintf(used, NITRO_DEVNAME_LEN, "%s", rc ? "" : a.device);
	return rc;
}

static int ref(unsigned long cmd, __u64 id)
{
	struct nitro_object_ref r = { .size = sizeof(r), .id = id };

	return xioctl(fd, cmd, &r);
}

static int eni_info(__u64 id, struct nitro_eni_info *info)
{
	struct nitro_eni_describe d = { .size = sizeof(d), .id = id };
	int rc = xioctl(fd, NITRO_IOC_ENI_DESCRIBE, &d);

	*info = d.info;
	return rc;
}

static void *console_call(void *arg)
{
	struct nitro_instance_console c = { .size = sizeof(c), .id = *(__u64 *)arg };
	char buf[64];

	c.buf = (uintptr_t)buf;
	c.cap = sizeof(buf);
	return (void *)(intptr_t)xioctl(fd, NITRO_IOC_INSTANCE_CONSOLE, &c);
}

int main(int argc, char **argv)
{
	struct nitro_instance_info info;
	__u64 a, b, c, d, e1, e2, e3, ids[70];
	__u32 st;
	int rc, i, ok;

	ksft_print_header();
	ksft_set_plan(22);
	if (argc < 3)
		ksft_exit_fail_msg("usage: instance_abi HOST OTHER_HOST\n");
	host = atoi(argv[1]);
	other_host = atoi(argv[2]);
	fd = open("/dev/nitro_ctrl", O_RDWR);
	if (fd < 0)
		ksft_exit_fail_msg("open /dev/nitro_ctrl: %s\n", strerror(errno));

	/* 1: the types. */
	{
		struct nitro_instance_type t[8];
		struct nitro_list l = { .size = sizeof(l), .entries = (uintptr_t)t, .cap = 8 };

		rc = xioctl(fd, NITRO_IOC_INSTANCE_TYPES, &l);
		ksft_test_result(!rc && l.count == 4 && !strcmp(t[0].name, "nitro.micro") &&
				 !strcmp(t[1].name, "nitro.small") && t[1].vcpus == 1 &&
				 t[1].memory_bytes == 256 * MIB && t[1].max_volumes == 4 &&
				 t[1].max_enis == 2 && !strcmp(t[2].name, "nitro.large") &&
				 t[2].vcpus == 2 && !strcmp(t[3].name, "nitrod.large") &&
				 t[3].instance_store_bytes == 1024 * MIB && t[1].instance_store_bytes == 0,
				 "types: nitro.micro, .small (1 vCPU, 256 MiB, 4 volumes, 2 ENIs), .large (2 vCPUs), nitrod.large (1 GiB instance store)\n");
	}

	/* 2: bad input changes nothing. */
	{
		static const char no_nul[] = "/bin/sh";
		static const char empty_arg[] = "/bin/sh\0\0";
		__u64 id;
		int r1 = create("nitro.huge", NULL, host, CMD, CMD_LEN, 0, &id);
		int r2 = create("nitro.small", NULL, host, no_nul, sizeof(no_nul) - 1, 0, &id);
		int r3 = create("nitro.small", NULL, host, empty_arg, sizeof(empty_arg) - 1, 0, &id);
		int r4 = create("nitro.small", NULL, 99, CMD, CMD_LEN, 0, &id);
		int r5 = create("nitro.small", NULL, host, CMD, CMD_LEN, 1 << 5, &id);
		int r6 = create("nitro.small", NULL, host, NULL, CMD_LEN, 0, &id);
		struct nitro_list l = { .size = sizeof(l) };

		xioctl(fd, NITRO_IOC_INSTANCE_LIST, &l);
		ksft_test_result(r1 == -EINVAL && r2 == -EINVAL && r3 == -EINVAL && r4 == -ENODEV &&
				 r5 == -EINVAL && r6 == -EINVAL && l.count == 0 && !l.more,
				 "create: unknown type, command without its NUL or with an empty argument, unknown flag, no command: EINVAL; unknown host ENODEV; nothing made\n");
	}

	/* 3: create stopped; start without a hypervisor. */
	rc = create("nitro.small", "web", host, CMD, CMD_LEN, 0, &a);
	ok = !rc && !describe(a, &info) && info.state == NITRO_INSTANCE_STOPPED &&
	     !strcmp(info.type, "nitro.small") && !strcmp(info.name, "web") && info.host == host &&
	     info.vcpus == 1 && info.memory_bytes == 256 * MIB && info.launch_time_ns == 0;
	rc = op(NITRO_IOC_INSTANCE_START, a, 0, NULL);
	ksft_test_result(ok && rc == -ENODEV && state_of(a) == NITRO_INSTANCE_STOPPED &&
			 create("nitro.small", "web", host, CMD, CMD_LEN, 0, NULL) == -EEXIST,
			 "create: stopped, as described; start with no hypervisor ENODEV; the name is taken (EEXIST)\n");

	/* 4: registration. */
	rc = hv_start();
	{
		int f2 = open("/dev/nitro_ctrl", O_RDWR);
		struct nitro_hv_register r = { .size = sizeof(r), .host = host };
		struct nitro_hv_register r2 = { .size = sizeof(r2), .host = 99 };
		int again = xioctl(f2, NITRO_IOC_HV_REGISTER, &r);
		int unknown = xioctl(f2, NITRO_IOC_HV_REGISTER, &r2);
		struct nitro_hv_command c = { .size = sizeof(c), .timeout_ms = 10, .devices = 1, .args = 1 };
		int next = xioctl(f2, NITRO_IOC_HV_NEXT, &c);

		close(f2);
		ksft_test_result(!rc && again == -EBUSY && unknown == -ENODEV && next == -EINVAL,
				 "hypervisor: registers for the host; a second one EBUSY; unknown host ENODEV; NEXT on a file that is no hypervisor EINVAL\n");
	}

	/* 5: start: the hypervisor's command, then running. */
	rc = op(NITRO_IOC_INSTANCE_START, a, 0, &st);
	ok = !rc && (st == NITRO_INSTANCE_PENDING || st == NITRO_INSTANCE_RUNNING) &&
	     !wait_for(a, BIT(RUNNING), 5000);
	pthread_mutex_lock(&hv.lock);
	ok = ok && hv.last[NITRO_HV_START].instance == a && hv.last[NITRO_HV_START].vcpus == 1 &&
	     hv.last[NITRO_HV_START].memory_bytes == 256 * MIB &&
	     hv.last[NITRO_HV_START].pids == 512 && hv.last_args_len[NITRO_HV_START] == CMD_LEN &&
	     !memcmp(hv.last_args[NITRO_HV_START], CMD, CMD_LEN);
	pthread_mutex_unlock(&hv.lock);
	ksft_test_result(ok && !describe(a, &info) && info.state == NITRO_INSTANCE_RUNNING &&
			 info.pid == 4242 && info.launch_time_ns > 0,
			 "start: pending; the hypervisor gets START with the type's limits and the command line; running, with its pid\n");

	/* 6: what EC2 accepts as no-ops, and what it refuses. */
	{
		__u32 s1, s2;
		int r1 = op(NITRO_IOC_INSTANCE_START, a, 0, &s1);
		int r2 = op(NITRO_IOC_INSTANCE_STOP, a, 1 << 7, NULL);
		int r3 = op(NITRO_IOC_INSTANCE_START, a, NITRO_STOP_FORCE, NULL);

		hv_hold(NITRO_HV_STOP);
		rc = op(NITRO_IOC_INSTANCE_STOP, a, 0, &s2);
		ok = !rc && s2 == NITRO_INSTANCE_STOPPING && hv_wait_held();
		ksft_test_result(!r1 && s1 == NITRO_INSTANCE_RUNNING && r2 == -EINVAL && r3 == -EINVAL &&
				 ok && op(NITRO_IOC_INSTANCE_START, a, 0, NULL) == -EBUSY &&
				 !op(NITRO_IOC_INSTANCE_STOP, a, 0, &st) && st == NITRO_INSTANCE_STOPPING,
				 "start of a running instance: a no-op; bad flags EINVAL; while stopping: start EBUSY, stop a no-op\n");
	}
	hv_hold(0);
	rc = wait_for(a, BIT(STOPPED), 5000);
	pthread_mutex_lock(&hv.lock);
	ok = hv.last[NITRO_HV_STOP].grace_ms == 5000;
	pthread_mutex_unlock(&hv.lock);
	ksft_test_result(!rc && ok && !describe(a, &info) && info.state == NITRO_INSTANCE_STOPPED &&
			 info.reason == NITRO_REASON_USER && info.pid == 0,
			 "stop: STOP with a 5 s grace period; stopped by the user, no pid\n");

	/* 8: forced stop, stop of a stopped instance. */
	op(NITRO_IOC_INSTANCE_START, a, 0, NULL);
	wait_for(a, BIT(RUNNING), 5000);
	rc = op(NITRO_IOC_INSTANCE_STOP, a, NITRO_STOP_FORCE, NULL);
	wait_for(a, BIT(STOPPED), 5000);
	pthread_mutex_lock(&hv.lock);
	ok = hv.last[NITRO_HV_STOP].grace_ms == 0;
	pthread_mutex_unlock(&hv.lock);
	ksft_test_result(!rc && ok && !op(NITRO_IOC_INSTANCE_STOP, a, 0, &st) &&
			 st == NITRO_INSTANCE_STOPPED,
			 "stop --force: no grace period; stop of a stopped instance: a no-op\n");

	/* 9: a launch that fails. */
	hv_script(NITRO_HV_START, ENOMEM);
	op(NITRO_IOC_INSTANCE_START, a, 0, NULL);
	rc = wait_for(a, BIT(STOPPED), 5000);
	ksft_test_result(!rc && !describe(a, &info) && info.state == NITRO_INSTANCE_STOPPED &&
			 info.reason == NITRO_REASON_LAUNCH_FAILED && info.error == ENOMEM,
			 "a launch the hypervisor fails (ENOMEM): stopped, reason launch-failed, the errno kept\n");

	/* 10: the instance shuts itself down. */
	op(NITRO_IOC_INSTANCE_START, a, 0, NULL);
	wait_for(a, BIT(RUNNING), 5000);
	hv_report_exit(a);
	rc = wait_for(a, BIT(STOPPED), 5000);
	ksft_test_result(!rc && !describe(a, &info) && info.reason == NITRO_REASON_INSTANCE_SHUTDOWN &&
			 info.error == 0,
			 "its init exits (reported by the hypervisor): stopped, reason instance-initiated-shutdown\n");

	/* 11: terminate a stopped instance. */
	rc = op(NITRO_IOC_INSTANCE_TERMINATE, a, 0, &st);
	ksft_test_result(!rc && st == NITRO_INSTANCE_TERMINATED && state_of(a) == NITRO_INSTANCE_TERMINATED &&
			 op(NITRO_IOC_INSTANCE_START, a, 0, NULL) == -EINVAL &&
			 op(NITRO_IOC_INSTANCE_STOP, a, 0, NULL) == -EINVAL &&
			 !op(NITRO_IOC_INSTANCE_TERMINATE, a, 0, NULL) &&
			 !create("nitro.small", "web", host, CMD, CMD_LEN, 0, &b),
			 "terminate of a stopped instance: terminated at once, still described; start and stop EINVAL, terminate a no-op; its name is free again\n");

	/* 12: terminate a running instance; terminate while stopping. */
	op(NITRO_IOC_INSTANCE_START, b, 0, NULL);
	wait_for(b, BIT(RUNNING), 5000);
	rc = op(NITRO_IOC_INSTANCE_TERMINATE, b, 0, &st);
	ok = !rc && st == NITRO_INSTANCE_SHUTTING_DOWN && !wait_for(b, BIT(TERMINATED), 5000);
	run("nitro.small", NULL, &c);
	wait_for(c, BIT(RUNNING), 5000);
	hv_hold(NITRO_HV_STOP);
	op(NITRO_IOC_INSTANCE_STOP, c, 0, NULL);
	hv_wait_held();
	rc = op(NITRO_IOC_INSTANCE_TERMINATE, c, 0, &st);
	hv_hold(0);
	ksft_test_result(ok && !rc && st == NITRO_INSTANCE_SHUTTING_DOWN &&
			 !wait_for(c, BIT(TERMINATED), 5000),
			 "terminate of a running instance: shutting-down, then terminated; of a stopping one: shutting-down, terminated when the stop is done\n");

	/* 13: the terminated ring. */
	ok = 1;
	for (i = 0; i < 70 && ok; i++)
		ok = !create("nitro.micro", NULL, host, CMD, CMD_LEN, 0, &ids[i]) &&
		     !op(NITRO_IOC_INSTANCE_TERMINATE, ids[i], 0, NULL);
	ksft_test_result(ok && describe(ids[0], NULL) == -ENOENT && describe(ids[5], NULL) == -ENOENT &&
			 state_of(ids[69]) == NITRO_INSTANCE_TERMINATED &&
			 state_of(ids[6]) == NITRO_INSTANCE_TERMINATED && describe(a, NULL) == -ENOENT,
			 "70 more terminated: the ring keeps the last %d, the oldest are gone (ENOENT)\n",
			 NITRO_TERMINATED_KEPT);

	/* 14: ENIs of an instance: attach, limits, detach. */
	run("nitro.small", NULL, &d);
	wait_for(d, BIT(RUNNING), 5000);
	eni_make(host, "10.77.0.1", &e1);
	eni_make(host, "10.77.0.2", &e2);
	eni_make(other_host, "10.77.0.3", &e3);
	{
		char used[NITRO_DEVNAME_LEN];
		struct nitro_eni_info ei;
		int r1 = eni_attach(e1, d, 1, 0, used);
		int n1 = count(NITRO_HV_ATTACH_NIC);

		pthread_mutex_lock(&hv.lock);
		ok = hv.last[NITRO_HV_ATTACH_NIC].instance == d &&
		     hv.last_dev[NITRO_HV_ATTACH_NIC].kind == NITRO_HV_NIC &&
		     hv.last_dev[NITRO_HV_ATTACH_NIC].index == 1 &&
		     !strncmp(hv.last_dev[NITRO_HV_ATTACH_NIC].device, "eni", 3);
		pthread_mutex_unlock(&hv.lock);
		ksft_test_result(!r1 && !strcmp(used, "eth1") && n1 == 1 && ok && !eni_info(e1, &ei) &&
				 ei.instance == d && ei.state == NITRO_STATE_ATTACHED && !strcmp(ei.device, "eth1"),
				 "ENI hot attach: the hypervisor gets ATTACH_NIC (the host's interface, index 1); the ENI is eth1 of the instance\n");
		ksft_test_result(eni_attach(e2, d, 1, 0, NULL) == -EEXIST &&
				 eni_attach(e2, d, 2, 0, NULL) == -EINVAL &&
				 eni_attach(e3, d, 0, 0, NULL) == -EINVAL &&
				 eni_attach(e2, 0x1234, 0, 0, NULL) == -ENOENT &&
				 !eni_info(e2, &ei) && ei.state == NITRO_STATE_AVAILABLE,
				 "ENI attach: index taken EEXIST; index past the type's 2 ENIs EINVAL; ENI of another host EINVAL; unknown instance ENOENT; nothing attached\n");
		hv_script(NITRO_HV_ATTACH_NIC, EIO);
		rc = eni_attach(e2, d, 0, 0, NULL);
		ksft_test_result(rc == -EIO && !eni_info(e2, &ei) && ei.state == NITRO_STATE_AVAILABLE &&
				 ei.instance == 0,
				 "ENI attach the hypervisor fails (EIO): the caller gets EIO, the card's attachment is undone\n");
		rc = ref(NITRO_IOC_ENI_DETACH, e1);
		ksft_test_result(!rc && count(NITRO_HV_DETACH_NIC) == 1 && !eni_info(e1, &ei) &&
				 ei.state == NITRO_STATE_AVAILABLE && ei.instance == 0,
				 "ENI detach: DETACH_NIC to the hypervisor, then available\n");
	}

	/* 18: the console. */
	{
		struct nitro_instance_console cs = { .size = sizeof(cs), .id = d };
		char buf[64] = { 0 };
		char small[6] = { 0 };

		cs.buf = (uintptr_t)buf;
		cs.cap = sizeof(buf);
		rc = xioctl(fd, NITRO_IOC_INSTANCE_CONSOLE, &cs);
		ok = !rc && cs.len == 31 && !memcmp(buf, "booted\nhello from the instance\n", 31);
		cs.buf = (uintptr_t)small;
		cs.cap = sizeof(small);
		cs.len = 0;
		rc = xioctl(fd, NITRO_IOC_INSTANCE_CONSOLE, &cs);
		ksft_test_result(ok && !rc && cs.len == 6 && !memcmp(small, "tance\n", 6),
				 "console: the hypervisor's output; with little room, its end\n");
	}

	/* 19: metrics of an instance. */
	{
		struct nitro_metrics m = { .size = sizeof(m), .scope = NITRO_METRICS_INSTANCE, .id = d };

		rc = xioctl(fd, NITRO_IOC_METRICS, &m);
		ksft_test_result(!rc && m.state == NITRO_INSTANCE_RUNNING && m.uptime_ns > 0 && m.enis == 0,
				 "metrics (instance scope): its state, uptime and devices\n");
	}

	/* 20: the hypervisor dies with a command in flight. */
	{
		pthread_t t;
		void *ret;

		eni_attach(e1, d, 1, 0, NULL);
		hv_hold(NITRO_HV_CONSOLE);
		pthread_create(&t, NULL, console_call, &d);
		ok = hv_wait_held();
		/* Closing its file is the hypervisor going away. */
		pthread_mutex_lock(&hv.lock);
		hv.stop = 1;
		pthread_cond_broadcast(&hv.cond);
		pthread_mutex_unlock(&hv.lock);
		pthread_join(hv.thread, NULL);
		close(hv.fd);
		pthread_join(t, &ret);
		{
			struct nitro_eni_info ei;

			eni_info(e1, &ei);
			describe(d, &info);
			ksft_print_msg("held %d, caller %d, state %u reason %u, ENI state %u on %llx\n",
				       ok, (int)(intptr_t)ret, info.state, info.reason, ei.state,
				       (unsigned long long)ei.instance);
			ksft_test_result(ok && (intptr_t)ret == -ECONNRESET && !describe(d, &info) &&
					 info.state == NITRO_INSTANCE_STOPPED &&
					 info.reason == NITRO_REASON_HYPERVISOR_LOST &&
					 ei.state == NITRO_STATE_ATTACHED && ei.instance == d,
					 "the hypervisor goes away mid-command: the waiting caller gets ECONNRESET; its running instance is stopped (hypervisor-lost), its ENI stays attached\n");
		}
	}

	/* 21: instance store comes with the type. */
	rc = hv_start();
	{
		struct nitro_volume_info vi[4];
		struct nitro_list l = { .size = sizeof(l), .entries = (uintptr_t)vi, .cap = 4 };
		__u64 s;

		ok = !rc && !run("nitrod.large", NULL, &s) && !wait_for(s, BIT(RUNNING), 5000);
		xioctl(fd, NITRO_IOC_VOLUME_LIST, &l);
		pthread_mutex_lock(&hv.lock);
		ok = ok && hv.last[NITRO_HV_START].ndevices == 1 &&
		     hv.last_dev[NITRO_HV_START].kind == NITRO_HV_DISK &&
		     !strcmp(hv.last_dev[NITRO_HV_START].device, "sdb") &&
		     hv.last_dev[NITRO_HV_START].major != 0 &&
		     !strncmp(hv.last_dev[NITRO_HV_START].by_id, "nvme-Amazon_EC2_NVMe_Instance_Storage_vol0", 42);
		pthread_mutex_unlock(&hv.lock);
		ok = ok && l.count == 1 && vi[0].instance == s && vi[0].size_bytes == 1024 * MIB &&
		     vi[0].flags == NITRO_ATTACH_DELETE_ON_TERMINATION && !strcmp(vi[0].device, "sdb") &&
		     ref(NITRO_IOC_VOLUME_DETACH, vi[0].id) == -EINVAL;
		op(NITRO_IOC_INSTANCE_TERMINATE, s, 0, NULL);
		wait_for(s, BIT(TERMINATED), 5000);
		l.count = 0;
		xioctl(fd, NITRO_IOC_VOLUME_LIST, &l);
		ksft_test_result(ok && l.count == 0,
				 "nitrod.large: a 1 GiB instance-store volume made with it, attached as sdb (in START, with its by-id name), not detachable, deleted at terminate\n");
	}

	/* 22: the live instances and the unprivileged. */
	{
		struct nitro_instance_info li[80];
		struct nitro_list l = { .size = sizeof(l), .entries = (uintptr_t)li, .cap = 80 };

		rc = xioctl(fd, NITRO_IOC_INSTANCE_LIST, &l);
		ksft_test_result(!rc && l.count >= 2 && !l.more,
				 "list: live and terminated instances (%u)\n", l.count);
	}
	op(NITRO_IOC_INSTANCE_TERMINATE, d, 0, NULL);
	ref(NITRO_IOC_ENI_DETACH, e1);
	ref(NITRO_IOC_ENI_DELETE, e1);
	ref(NITRO_IOC_ENI_DELETE, e2);
	ref(NITRO_IOC_ENI_DELETE, e3);
	hv_end();
	ksft_finished();
}
