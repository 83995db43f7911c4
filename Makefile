# Tidal build. `make` builds everything; `make test`, `make demo`, `make bench` also
# install missing Debian packages first (ci/deps.sh). SAN=1 builds into build-san/
# with ASan+UBSan for the host side (guests are never instrumented). `make fuzz` builds
# the libFuzzer harnesses of tests/fuzz/ into build-fuzz/ (FUZZ=1) and runs each.

SAN ?= 0
FUZZ ?= 0
# `tidal` links statically against musl: no dynamic loader and a small C library to
# map at start (README.md, "How the binaries are linked"). The sanitizers' runtimes
# need glibc and the dynamic loader, so under SAN=1 it is built like the rest.
ifeq ($(FUZZ),1)
# The libraries get the fuzzer's coverage instrumentation without its main(); only the
# harnesses link libFuzzer's (-fsanitize=fuzzer). UB aborts, so libFuzzer sees a crash.
B := build-fuzz
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
else ifeq ($(SAN),1)
B := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LEAN_CC = $(CC)
LEAN_CFLAGS = $(CFLAGS)
LEAN_LDFLAGS :=
LEAN_OBJ = $(call obj,$(1))
LEAN_LIBS := -lseccomp -lpthread
LEAN_COMPAT_SRC :=
else
B := build
SANFLAGS :=
# musl's headers leave out the kernel's; the KVM API comes from linux-libc-dev's.
LEAN_CC = musl-gcc
LEAN_CFLAGS = $(filter-out -Iinclude,$(CFLAGS)) -Iinclude -isystem $(B)/kernel-headers
LEAN_LDFLAGS := -static
LEAN_OBJ = $(patsubst %.c,$(B)/lean/%.o,$(1))
# libseccomp from Debian is built against glibc; its static archive links with musl
# but for one fortified printf (cli/musl_compat.c supplies it).
LEAN_LIBS := /usr/lib/$(shell gcc -print-multiarch)/libseccomp.a -lpthread
LEAN_COMPAT_SRC := cli/musl_compat.c
endif

SHELL := /bin/bash
CC := gcc
CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -Iinclude $(SANFLAGS)
ifeq ($(FUZZ),1)
# libFuzzer is clang's. The kernel's struct kvm_xsave ends in a flexible array (Linux
# 5.17+), and clang, unlike gcc, warns when vmstate.h embeds it.
CC := clang
CFLAGS += -Wno-gnu-variable-sized-type-not-at-end
endif
LDFLAGS := $(SANFLAGS)
LDLIBS := -lmicrohttpd -lcurl -lcjson -lbpf -lseccomp -lm -lpthread

# Guest code: freestanding, no red zone dependence in our own code, no SSE in handlers.
GUEST_CC := musl-gcc
GUEST_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -Iinclude \
	-ffreestanding -fno-pic -fno-pie -fno-stack-protector -mno-red-zone \
	-fno-asynchronous-unwind-tables

MONITOR_SRC := $(wildcard monitor/*.c)
SNAPSHOT_SRC := $(wildcard snapshot/*.c)
SCHEDULER_SRC := $(wildcard scheduler/*.c)
HOST_SRC := $(wildcard host/*.c host/serve/*.c host/daemon/*.c host/cluster/*.c)
TELEMETRY_SRC := $(filter-out %.bpf.c,$(wildcard telemetry/*.c))
# `tidal` has the commands that start guests and links no HTTP, TLS or JSON library;
# it execs tidal-host, beside it, for the others (README.md, "How the binaries are
# linked").
LEAN_CLI_SRC := cli/main.c cli/run.c cli/restore.c cli/clone.c cli/vm_report.c cli/json_line.c \
	cli/console_timer.c
HOST_CLI_SRC := $(filter-out $(LEAN_CLI_SRC) cli/musl_compat.c,$(wildcard cli/*.c))
GUESTLIB_SRC := $(wildcard guestlib/*.c) $(wildcard guestlib/*.S)
EXAMPLES := $(basename $(notdir $(wildcard examples/*.c)))
# Every folder under tests/ with Criterion tests is one suite; corpus/ holds data,
# guests/ guest programs the suites boot, common/ code every suite links.
# fuzz/ holds the libFuzzer harnesses (`make fuzz`), not a suite.
TEST_SUITES := $(filter-out corpus guests common fuzz,$(notdir $(wildcard tests/*)))
TEST_COMMON = $(call obj,$(wildcard tests/common/*.c))
# Suites that boot guests or drive a server that does: `make test-nested` runs them
# inside QEMU when the host has no /dev/kvm.
KVM_SUITES := $(filter integration serve daemon migrate,$(TEST_SUITES))
TEST_GUESTS := $(patsubst tests/guests/%.c,build/tests/guests/%.elf,$(wildcard tests/guests/*.c))
# Function guests (fn_*) also as Linux programs, for tidal serve's process backend, and
# guests whose output the tests compare byte for byte with their Linux build.
TEST_GUESTS += $(patsubst tests/guests/%.c,build/tests/guests/%.linux,$(wildcard tests/guests/fn_*.c))
TEST_GUESTS += build/tests/guests/flush_lines.linux build/tests/guests/interleave.linux

obj = $(patsubst %,$(B)/obj/%.o,$(basename $(1)))

MONITOR_LIB := $(B)/libtidal-monitor.a
SNAPSHOT_LIB := $(B)/libtidal-snapshot.a
SCHEDULER_LIB := $(B)/libtidal-scheduler.a
HOST_LIB := $(B)/libtidal-host.a
TELEMETRY_LIB := $(B)/libtidal-telemetry.a
GUEST_LIB := build/guest/libtidal-guest.a
HOST_LIBS := $(HOST_LIB) $(TELEMETRY_LIB) $(SNAPSHOT_LIB) $(MONITOR_LIB) $(SCHEDULER_LIB)

.PHONY: all deps test test-nested demo bench clean format examples fuzz fuzz-build
all: $(B)/tidal $(B)/tidal-host build/tidal-cc examples

deps:
	@ci/deps.sh

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(B)/lib%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(MONITOR_LIB): $(call obj,$(MONITOR_SRC))
$(SNAPSHOT_LIB): $(call obj,$(SNAPSHOT_SRC))
$(SCHEDULER_LIB): $(call obj,$(SCHEDULER_SRC))
$(HOST_LIB): $(call obj,$(HOST_SRC))
$(TELEMETRY_LIB): $(call obj,$(TELEMETRY_SRC))

# ---- the BPF program behind `tidal top` (telemetry/): CO-RE, so it is compiled once
# against this kernel's BTF and relocated by libbpf on whatever kernel loads it ----
$(B)/telemetry/vmlinux.h:
	@mkdir -p $(dir $@)
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@
$(B)/telemetry/kvm_top.bpf.o: telemetry/kvm_top.bpf.c telemetry/kvm_top.h $(B)/telemetry/vmlinux.h
	clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I$(B)/telemetry -Itelemetry -c $< -o $@
$(B)/telemetry/kvm_top.skel.h: $(B)/telemetry/kvm_top.bpf.o
	bpftool gen skeleton $< name kvm_top > $@.tmp && mv $@.tmp $@
$(call obj,$(TELEMETRY_SRC)): CFLAGS += -I$(B)/telemetry
$(call obj,$(TELEMETRY_SRC)): $(B)/telemetry/kvm_top.skel.h

# Migration is the daemons' business (tidal-host): `tidal` leaves it out.
LEAN_SNAPSHOT_SRC := $(filter-out snapshot/migrate_%,$(SNAPSHOT_SRC))
$(B)/tidal: $(call LEAN_OBJ,$(LEAN_CLI_SRC) $(LEAN_COMPAT_SRC) $(LEAN_SNAPSHOT_SRC) $(MONITOR_SRC))
	$(LEAN_CC) $(LDFLAGS) $(LEAN_LDFLAGS) -o $@ $^ $(LEAN_LIBS)
$(B)/lean/%.o: %.c | $(B)/kernel-headers
	@mkdir -p $(dir $@)
	$(LEAN_CC) $(LEAN_CFLAGS) -MMD -MP -c $< -o $@
$(B)/kernel-headers:
	@mkdir -p $@
	ln -sfn /usr/include/linux $@/linux
	ln -sfn /usr/include/asm-generic $@/asm-generic
	ln -sfn /usr/include/$$(gcc -print-multiarch)/asm $@/asm
	ln -sfn /usr/include/seccomp.h $@/seccomp.h
	ln -sfn /usr/include/seccomp-syscalls.h $@/seccomp-syscalls.h
$(B)/tidal-host: $(call obj,$(HOST_CLI_SRC)) $(HOST_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- guest side: always built once, in build/, without sanitizers ----
build/guest/%.o: guestlib/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@
build/guest/%.o: guestlib/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@
$(GUEST_LIB): $(patsubst guestlib/%,build/guest/%.o,$(basename $(GUESTLIB_SRC)))
	rm -f $@ && ar rcs $@ $^

build/tidal-cc: cli/tidal-cc.in $(GUEST_LIB)
	sed -e 's|@TIDAL_ROOT@|$(CURDIR)|g' $< > $@ && chmod +x $@

build/examples/%.elf: examples/%.c build/tidal-cc
	@mkdir -p $(dir $@)
	build/tidal-cc -O2 $< -o $@
	guestlib/list-syscalls.sh $@ > $(basename $@).syscalls
# The same program as a static musl Linux process: the baseline in tests and benchmarks.
LINUX_BUILD = @mkdir -p $(dir $@) && musl-gcc -std=c11 -D_GNU_SOURCE -O2 -static -Iinclude \
	$< guestlib/linux/shim.c -o $@
build/examples/%.linux: examples/%.c guestlib/linux/shim.c
	$(LINUX_BUILD)

build/tests/guests/%.elf: tests/guests/%.c build/tidal-cc
	@mkdir -p $(dir $@)
	build/tidal-cc -O2 $< -o $@
build/tests/guests/%.linux: tests/guests/%.c guestlib/linux/shim.c
	$(LINUX_BUILD)

examples: $(foreach e,$(EXAMPLES),build/examples/$(e).elf build/examples/$(e).linux)

# ---- benchmark tools: bench/bench-*.sh runs them from build/, next to build/tidal ----
# bench_stats is an object of its own: compiled along with $< it would overwrite $@.d.
BENCH_STATS := $(call obj,bench/bench_stats.c)
BENCH_PROBE := $(call obj,bench/kvm_probe.c)
build/bench/proc-timer: bench/proc_timer.c $(BENCH_STATS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(BENCH_STATS) -lm
build/bench/bringup: bench/bringup.c $(BENCH_STATS) $(BENCH_PROBE) $(MONITOR_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(BENCH_STATS) $(BENCH_PROBE) $(MONITOR_LIB) $(LDLIBS)
KVM_BENCH_LIBS := $(BENCH_STATS) $(BENCH_PROBE) $(SNAPSHOT_LIB) $(MONITOR_LIB)
build/bench/restore-bench: bench/restore_bench.c $(KVM_BENCH_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(KVM_BENCH_LIBS) $(LDLIBS)
build/bench/reuse-bench: bench/reuse_bench.c $(KVM_BENCH_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(KVM_BENCH_LIBS) $(LDLIBS)
build/bench/cluster-bench: bench/cluster_bench.c $(BENCH_STATS) $(HOST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(BENCH_STATS) $(HOST_LIBS) $(LDLIBS)
# The guests run on threads of their own as the tests' do (tests/common/vm_runner.c).
MIGRATE_BENCH_LIBS := $(call obj,tests/common/vm_runner.c) $(KVM_BENCH_LIBS)
build/bench/migrate-bench: bench/migrate_bench.c $(MIGRATE_BENCH_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(MIGRATE_BENCH_LIBS) $(LDLIBS)

# ---- tests: one Criterion binary per folder under tests/ ----
define test_suite
$(B)/tests/$(1): $(call obj,$(wildcard tests/$(1)/*.c)) $(TEST_COMMON) $(HOST_LIBS)
	@mkdir -p $$(dir $$@)
	$(CC) $(LDFLAGS) -o $$@ $(call obj,$(wildcard tests/$(1)/*.c)) $(TEST_COMMON) $(HOST_LIBS) \
		$(LDLIBS) -lcriterion
endef
$(foreach s,$(TEST_SUITES),$(eval $(call test_suite,$(s))))

test: deps
	$(MAKE) --no-print-directory all $(TEST_GUESTS) $(foreach s,$(TEST_SUITES),$(B)/tests/$(s))
	@set -eo pipefail; for s in $(TEST_SUITES); do \
		echo "== tests/$$s"; \
		LSAN_OPTIONS=suppressions=$(CURDIR)/ci/lsan.supp:print_suppressions=0 \
		TIDAL_BIN=$(CURDIR)/$(B)/tidal TIDAL_ROOT=$(CURDIR) $(B)/tests/$$s --jobs 2 --verbose \
			2>&1 | grep -v -E '^\[(RUN |PASS|====\] Running)'; \
	done
	@[ -w /dev/kvm ] || echo "NOTE: /dev/kvm is missing: the tests that boot guests were SKIPPED" \
		"(see [SKIP] above). 'make test-nested' runs them inside QEMU with nested KVM."

# The integration suite inside a QEMU/TCG machine with nested KVM, for hosts
# without /dev/kvm (correctness only: everything runs emulated and slow).
test-nested: deps
	$(MAKE) --no-print-directory all $(TEST_GUESTS) $(foreach s,$(KVM_SUITES),$(B)/tests/$(s))
	ci/kvm-in-qemu/setup.sh
	@# one line: run.sh quotes the command with printf %q, and a newline in it would
	@# become $$'...' quoting, which the machine's sh does not read
	ci/kvm-in-qemu/run.sh -- sh -c 'set -e; for s in $(KVM_SUITES); do echo "== tests/$$s (nested)"; env TIDAL_BIN=$(CURDIR)/$(B)/tidal TIDAL_ROOT=$(CURDIR) $(B)/tests/$$s --jobs 1; done'

# ---- fuzzing: one libFuzzer binary per tests/fuzz/fuzz_*.c, each run for FUZZ_SECONDS
# from its committed seeds (tests/fuzz/corpus/<harness>/); any crash, leak or UB fails ----
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES := $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_COMMON = $(call obj,$(wildcard tests/fuzz/common/*.c))
# Kept: a helper object named only by the pattern rule below would be deleted as an
# intermediate file after every build.
.SECONDARY: $(FUZZ_COMMON)
$(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_COMMON) $(HOST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/fuzz/common -fsanitize=fuzzer -MMD -MP -o $@ $< $(FUZZ_COMMON) \
		$(HOST_LIBS) $(LDLIBS)
fuzz-build:
	@[ "$(FUZZ)" = 1 ] || { echo "fuzz-build: run 'make fuzz' (it sets FUZZ=1)" >&2; exit 2; }
	$(MAKE) --no-print-directory $(foreach h,$(FUZZ_HARNESSES),$(B)/fuzz/$(h))
fuzz: deps
	$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	tests/fuzz/run.sh $(FUZZ_SECONDS) build-fuzz $(FUZZ_HARNESSES)

demo: deps
	$(MAKE) --no-print-directory all
	examples/demo.sh

bench: deps
	$(MAKE) --no-print-directory all build/bench/proc-timer build/bench/bringup \
		build/bench/restore-bench build/bench/reuse-bench build/bench/cluster-bench \
		build/tests/guests/files.elf build/tests/guests/heartbeat.elf \
		build/bench/migrate-bench build/tests/guests/migrate_load.elf
	@set -e; for b in bench/bench-*.sh; do $$b; done

format:
	clang-format -i $(wildcard */*.c */*.h include/tidal/*.h tests/*/*.c)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find build build-san build-fuzz -name '*.d' 2>/dev/null)
