# shoal — one plain non-recursive GNU Makefile.
#   make            build build/shoal (optimised, with debug info)
#   make check      build with ASan+UBSan into build/san/ and run every test (tests/run)
#   make unit       build and run only the unit tests (sanitized)
#   make lint       clang-format check + module layering check
#   make bench      run the benchmarks in bench/
#   make fuzz       build the libFuzzer targets tests/fuzz/fuzz_*.c into build/fuzz/ (clang)
#   make fuzz-run   run each target for FUZZ_SECONDS (default 60), two at a time; fails on a
#                   crash, a leak or a sanitizer report (the input is kept in build/fuzz/)
# Variables: SAN=1 (sanitizers), BUILD=dir (out-of-tree build directory).

PKGS    := libuv jansson openssl libarchive libmnl
# The daemon links every module but not libarchive: linking it costs ~3 MB of idle RSS (it
# drags xml2, lzma, zstd, nettle...). src/image reaches it through dlopen (image_archive.c),
# and only `shoal image-helper`, the child process the daemon runs for `docker load` and
# `docker import`, ever reads an archive. UNWIRED lists modules kept out of the daemon.
# Tests, fuzzers and benches link everything. libnftables is dlopened too (src/net/net_nft.c:
# it maps libnftnl, libgmp, libjansson... only once a container is attached); libmnl (25 kB)
# is linked.
DAEMON_PKGS := libuv jansson openssl libmnl
UNWIRED     :=
CC      ?= cc
SAN     ?= 0
ifeq ($(SAN),1)
BUILD   ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT     := -O1
else
BUILD   ?= build
SANFLAGS :=
OPT     := -O2
endif

CFLAGS  += -std=gnu11 -g $(OPT) -Wall -Wextra -Wno-unused-parameter -Wshadow -Wformat=2 -Wno-format-truncation \
           -D_GNU_SOURCE -Isrc $(SANFLAGS) $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS))
DAEMON_LDLIBS := $(shell pkg-config --libs $(DAEMON_PKGS))
LDFLAGS += $(SANFLAGS)

# exec_crun_hybrid.c is a freestanding program of its own (no libc), embedded as bytes.
HYBRID_SRC := src/exec/exec_crun_hybrid.c
SRCS      := $(filter-out $(HYBRID_SRC),$(sort $(wildcard src/*/*.c src/*/*/*.c)))
OBJS      := $(SRCS:%.c=$(BUILD)/%.o)
# Where the wrapper can be built (x86-64, arm64) it is linked into shoal and the unit tests as
# the blob $(BUILD)/crun-hybrid.bin.o (symbols _binary_crun_hybrid_start/_end); elsewhere the
# exec module falls back to running itself as the wrapper.
ARCH      := $(shell $(CC) -dumpmachine)
ifneq ($(filter x86_64-% aarch64-%,$(ARCH)),)
HYBRID_OBJ := $(BUILD)/crun-hybrid.bin.o
endif
DAEMON_OBJS := $(filter-out $(UNWIRED:%=$(BUILD)/src/%/%),$(OBJS))
MAIN_OBJ  := $(BUILD)/src/main.o
TEST_SRCS := $(sort $(wildcard tests/unit/*.c))
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/%.o)
DEPS      := $(OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_OBJS:.o=.d) $(BUILD)/bench/bench_sched.d $(BUILD)/bench/bench_exec.d

.PHONY: all check unit lint bench clean fuzz fuzz-run
all: $(BUILD)/shoal

$(BUILD)/shoal: $(MAIN_OBJ) $(DAEMON_OBJS) $(HYBRID_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(DAEMON_LDLIBS)

$(BUILD)/test-unit: $(TEST_OBJS) $(OBJS) $(HYBRID_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Freestanding: no sanitizers, no libc, no PIE, no build ID (the bytes depend on the source).
$(BUILD)/crun-hybrid: $(HYBRID_SRC)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -Os -Wall -Wextra -static -nostdlib -ffreestanding -fno-stack-protector \
	    -fno-pie -no-pie -fno-asynchronous-unwind-tables -Wl,-z,noexecstack -Wl,--build-id=none \
	    -s -o $@ $<

$(BUILD)/crun-hybrid.bin.o: $(BUILD)/crun-hybrid
	cd $(BUILD) && ld -r -b binary -z noexecstack -o crun-hybrid.bin.o crun-hybrid

$(BUILD)/bench-sched: $(BUILD)/bench/bench_sched.o $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# bench-exec needs root, conmon and runc/crun: run it by hand (bench/README.md)
$(BUILD)/bench-exec: $(BUILD)/bench/bench_exec.o $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/unit/%.o: CFLAGS += -Itests/unit

check:
	$(MAKE) SAN=1 build/san/shoal build/san/test-unit
	SHOAL_BIN=$(CURDIR)/build/san/shoal UNIT_BIN=$(CURDIR)/build/san/test-unit tests/run
	$(MAKE) fuzz-run FUZZ_SECONDS=60

unit:
	$(MAKE) SAN=1 build/san/test-unit
	build/san/test-unit

lint:
	scripts/lint.sh

bench: all $(BUILD)/bench-sched
	$(BUILD)/bench-sched
	bench/api.sh

clean:
	rm -rf build

# ---- libFuzzer targets: the project's objects rebuilt with clang (the main build stays gcc) ----
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 2
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -Wall -Wno-unused-parameter -D_GNU_SOURCE -Isrc $(FUZZ_SAN) \
                -fsanitize=fuzzer-no-link $(shell pkg-config --cflags $(PKGS))
FUZZ_OBJS    := $(SRCS:%.c=build/fuzz/%.o)
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS    := $(FUZZ_NAMES:%=build/fuzz/fuzz_%)

fuzz: $(FUZZ_BINS)

build/fuzz/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -o $@ $< $(FUZZ_OBJS) $(LDLIBS)

# Each run grows build/fuzz/corpus/<name> from the seeds in tests/fuzz/corpus/<name>.
fuzz-run:
	$(MAKE) -j$(FUZZ_JOBS) fuzz
	$(MAKE) -j$(FUZZ_JOBS) $(FUZZ_NAMES:%=fuzz-run-%)

fuzz-run-%: build/fuzz/fuzz_%
	@mkdir -p build/fuzz/corpus/$* build/fuzz/artifacts
	scripts/fuzz-run.sh $* $(FUZZ_SECONDS)

-include $(FUZZ_OBJS:.o=.d) $(FUZZ_BINS:=.d)

-include $(DEPS)
