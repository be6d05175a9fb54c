// Instruction-set levels the kernels are built for, and the one chosen at run time.
#pragma once

namespace mr {

enum class Isa { Scalar = 0, Neon = 1, Avx2 = 2, Avx512 = 3 };

const char* isa_name(Isa isa);

// True when this CPU (and this build) can run kernels of `isa`.
bool isa_supported(Isa isa);

// The best supported level, lowered by MIXED_REWARD_ISA=scalar|avx2|avx512 when set
// (a request above what the CPU has is ignored, never obeyed: that would be SIGILL).
Isa isa_default();

// The level in use now (starts as isa_default()).
Isa isa_active();

// Forces a level for tests and benchmarks; returns false (and changes nothing) when unsupported.
bool isa_force(Isa isa);

}  // namespace mr
