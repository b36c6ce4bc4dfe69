# shoal — one plain non-recursive GNU Makefile.
#   make            build build/shoal (optimised, with debug info)
#   make check      build with ASan+UBSan into build/san/ and run every test (tests/run)
#   make unit       build and run only the unit tests (sanitized)
#   make lint       clang-format check + module layering check
#   make bench      run the benchmarks in bench/
# Variables: SAN=1 (sanitizers), BUILD=dir (out-of-tree build directory).

PKGS    := libuv jansson openssl libarchive
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
LDFLAGS += $(SANFLAGS)

SRCS      := $(sort $(wildcard src/*/*.c src/*/*/*.c))
OBJS      := $(SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ  := $(BUILD)/src/main.o
TEST_SRCS := $(sort $(wildcard tests/unit/*.c))
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/%.o)
DEPS      := $(OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_OBJS:.o=.d) $(BUILD)/bench/bench_sched.d $(BUILD)/bench/bench_exec.d

.PHONY: all check unit lint bench clean
all: $(BUILD)/shoal

$(BUILD)/shoal: $(MAIN_OBJ) $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test-unit: $(TEST_OBJS) $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

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

-include $(DEPS)
