# Convenience front end to CMake: `make` builds build/mailerd,
# `make asan` builds build-asan/mailerd with ASan+UBSan, `make test` runs the
# unit tests, `make check` runs everything (see tests/run.sh).
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

all: $(BUILD)/mailerd

$(BUILD)/mailerd: FORCE
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan: FORCE
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMAILERD_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

fuzz: FORCE
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DMAILERD_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

test: all
	@ctest --test-dir $(BUILD) --output-on-failure

check: FORCE
	@tests/run.sh

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all asan fuzz test check clean FORCE
FORCE:
