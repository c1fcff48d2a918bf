# SPDX-License-Identifier: GPL-2.0
#
# nitro-rs top-level Makefile.
#
#   make              modules, nitroctl, nitro-hv, selftests, samples
#   make vm           boot the dev kernel in virtme-ng with the modules loaded
#   make vm RUN=cmd   run one command there and exit with its status
#   make check        host tests, lint, then every selftest in the VM
#   make lint         W=1, CLIPPY=1 and rustfmt on everything
#   make bench        benchmarks, on the non-debug kernel (not a test)
#   make mutants      the mutation check: every mutant of tools/mutants/list
#                     caught by its tests (MUTANTS='a b': only those)
#   make soak         the ioctl fuzzer's long run, 1,000,000 calls in the VM
#   make clean
#
# Without KDIR, everything runs inside the dev root (tools/devroot.sh) against
# the dev kernel (tools/kernel.sh), both cached in $(NITRO_CACHE). With KDIR
# (a Rust-enabled kernel build tree) and your own toolchain, it runs here:
#   make KDIR=/path/to/linux LLVM=1

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

ifeq ($(NITRO_IN_DEVROOT)$(KDIR),)

# Outside the dev root: run the same goals inside it.
PASS := $(foreach v,RUN V CLIPPY INSTALL_MOD_PATH DESTDIR BENCH_RUNTIME BENCH_NET_PATHS BENCH_NET_MTUS BENCH_RPS BENCH_PERF BENCH_LAUNCHES MUTANTS,$(if $($(v)),$(v)='$($(v))'))
.DEFAULT_GOAL := all
.PHONY: $(or $(MAKECMDGOALS),all)
$(or $(MAKECMDGOALS),all):
	@cd $(TOP) && tools/devroot.sh run $(MAKE) --no-print-directory $(MAKECMDGOALS) $(PASS)

else

LLVM ?= -19
# The dev kernel, built on first use (cached).
KDIR_GIVEN := $(KDIR)
KDIR ?= $(shell $(TOP)/tools/kernel.sh path debug)
KSRC := $(or $(wildcard $(KDIR)/source),$(KDIR))
NITROCTL := $(TOP)/tools/nitroctl/target/release/nitroctl
NITRO_HV := $(TOP)/tools/nitro-hv/target/release/nitro-hv
KMAKE = $(MAKE) -C $(KDIR) M=$(TOP) LLVM=$(LLVM)

.DEFAULT_GOAL := all
.PHONY: all modules nitroctl nitro-hv selftests samples host-test lint fmt vm check mutants soak bench clean install

all: modules nitroctl nitro-hv selftests samples

modules:
	$(KMAKE) modules

# The userspace crates: the CLI and the hypervisor (tools/nitro-hv).
CRATES := $(TOP)/tools/nitroctl $(TOP)/tools/nitro-hv

nitroctl:
	cd $(TOP)/tools/nitroctl && cargo build --release --locked --quiet

nitro-hv:
	cd $(TOP)/tools/nitro-hv && cargo build --release --locked --quiet

selftests:
	$(MAKE) -C $(TOP)/selftests KSRC=$(KSRC)

samples:
	$(MAKE) -C $(TOP)/samples

host-test:
	for c in $(CRATES); do (cd $$c && cargo test --locked --quiet) || exit 1; done

# Warnings are errors here: W=1 and clippy for the modules, clippy for
# nitroctl, rustfmt for all Rust. A separate object tree is not available to
# M= builds, so the modules are rebuilt normally afterwards.
lint:
	$(KMAKE) W=1 CLIPPY=1 KCFLAGS=-Werror KRUSTFLAGS=-Dwarnings modules
	for c in $(CRATES); do (cd $$c && cargo clippy --locked --quiet --all-targets -- -D warnings) || exit 1; done
	$(MAKE) fmt FMTFLAGS=--check
	python3 $(TOP)/tools/lint/check.py

fmt:
	rustfmt --edition 2021 $(FMTFLAGS) $(filter-out %_generated.rs,$(wildcard $(TOP)/drivers/*/*.rs $(TOP)/drivers/*/*/*.rs $(TOP)/selftests/*/*.rs))
	for c in $(CRATES); do (cd $$c && cargo fmt $(if $(FMTFLAGS),-- $(FMTFLAGS))) || exit 1; done

vm: all
	$(TOP)/tools/vm.sh $(KDIR) $(if $(RUN),run '$(RUN)',shell)

check: host-test lint all
	$(TOP)/tools/vm.sh $(KDIR) check

# Not part of check: each mutant (a breakage of the code) built in a copy of
# the tree, then all run in one VM; fails if one survives (tools/mutants).
mutants: all
	LLVM=$(LLVM) $(TOP)/tools/mutants/run.sh $(KDIR) $(MUTANTS)

# Not part of check: in one VM booted with kmemleak on, through
# selftests/run.sh (so that the kernel log is checked after them), the
# random-ioctl fuzzer (selftests/nitro_ctrl/fuzz.sh) with 1,000,000 calls
# from a random seed after its fixed-seed run, then the races
# (selftests/nitro_ctrl/races.sh) for 1800 s: mixed control-plane and
# data-path load, card unloads, then the consistency check, a kmemleak scan,
# the log, and memory before and after. Each test gets 3600 s, the VM 7200.
soak: all
	NITRO_KMEMLEAK=1 NITRO_VM_TIMEOUT=7200 $(TOP)/tools/vm.sh $(KDIR) run 'cd $(TOP) && NITRO_TEST_TIMEOUT=3600 NITRO_FUZZ_RANDOM=1000000 NITRO_RACE_SECONDS=1800 NITRO_TESTS="nitro_ctrl/fuzz.sh nitro_ctrl/races.sh" bash selftests/run.sh'

# Benchmarks run on the non-debug kernel (tools/kernel.sh ... bench), so the
# modules are built again, against it, in a copy of the tree (an M= build
# writes next to its sources).
BENCH_TREE := $(TOP)/build/bench
bench: nitroctl nitro-hv
	rm -rf $(BENCH_TREE) && mkdir -p $(BENCH_TREE)
	tar -C $(TOP) --exclude=./build --exclude=./tools/nitroctl/target --exclude=./tools/nitro-hv/target --exclude=./.git \
		--exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' -cf - . | tar -C $(BENCH_TREE) -xf -
	$(MAKE) -C $(BENCH_TREE) KDIR=$$($(TOP)/tools/kernel.sh path bench) LLVM=$(LLVM) modules
	$(MAKE) -C $(BENCH_TREE)/tools/bench
	$(BENCH_TREE)/tools/vm.sh $$($(TOP)/tools/kernel.sh path bench) \
		run 'BENCH_RUNTIME=$(BENCH_RUNTIME) BENCH_NET_PATHS="$(BENCH_NET_PATHS)" BENCH_NET_MTUS="$(BENCH_NET_MTUS)" \
		BENCH_RPS=$(BENCH_RPS) BENCH_PERF=$(BENCH_PERF) BENCH_LAUNCHES=$(BENCH_LAUNCHES) \
		NITROCTL=$(NITROCTL) NITRO_HV=$(NITRO_HV) $(BENCH_TREE)/tools/bench/run.sh' | tee $(TOP)/build/bench.log

# Installs the modules (depmod'ed, under $(INSTALL_MOD_PATH)/lib/modules) and
# the block card's udev rule, as a package would.
install: modules
	@[ -n "$(INSTALL_MOD_PATH)$(KDIR_GIVEN)" ] || { echo "make install: the dev kernel is not this machine's: set INSTALL_MOD_PATH (and DESTDIR), or build against your kernel with KDIR=" >&2; exit 2; }
	$(KMAKE) modules_install INSTALL_MOD_PATH=$(INSTALL_MOD_PATH)
	install -D -m 644 $(TOP)/udev/70-nitro-nvme.rules $(DESTDIR)/lib/udev/rules.d/70-nitro-nvme.rules

clean:
	$(KMAKE) clean
	$(MAKE) -C $(TOP)/selftests clean
	$(MAKE) -C $(TOP)/samples clean
	rm -rf $(TOP)/tools/nitroctl/target $(TOP)/tools/nitro-hv/target $(TOP)/build

endif
