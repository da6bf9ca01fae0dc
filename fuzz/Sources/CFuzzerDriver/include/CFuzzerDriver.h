#ifndef BERTH_CFUZZERDRIVER_H
#define BERTH_CFUZZERDRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (compiler-rt, linked by -sanitize=fuzzer): parses libFuzzer flags from
/// argv and runs `callback` on each input. Called from each target's main.swift, because
/// SwiftPM links executables with main aliased to the module's own entry point.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
