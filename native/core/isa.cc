#include "isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace mr {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    case Isa::Neon: return "neon";
    default: return "scalar";
  }
}

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
#if defined(__x86_64__) || defined(_M_X64)
    case Isa::Avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::Avx512:
      // __builtin_cpu_supports also checks that the OS saves the zmm state (XCR0).
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
#endif
#if defined(__aarch64__)
    case Isa::Neon: return true;  // Advanced SIMD is mandatory on AArch64.
#endif
    default: return false;
  }
}

static Isa detect_best() {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  if (isa_supported(Isa::Neon)) return Isa::Neon;
  return Isa::Scalar;
}

Isa isa_default() {
  static const Isa chosen = [] {
    const Isa best = detect_best();
    const char* env = std::getenv("MIXED_REWARD_ISA");
    if (!env || !*env) return best;
    Isa want = best;
    if (std::strcmp(env, "scalar") == 0) want = Isa::Scalar;
    else if (std::strcmp(env, "avx2") == 0) want = Isa::Avx2;
    else if (std::strcmp(env, "avx512") == 0) want = Isa::Avx512;
    else if (std::strcmp(env, "neon") == 0) want = Isa::Neon;
    return isa_supported(want) && static_cast<int>(want) <= static_cast<int>(best) ? want : best;
  }();
  return chosen;
}

static std::atomic<int> g_forced{-1};

Isa isa_active() {
  const int f = g_forced.load(std::memory_order_relaxed);
  return f < 0 ? isa_default() : static_cast<Isa>(f);
}

bool isa_force(Isa isa) {
  if (!isa_supported(isa)) return false;
  g_forced.store(static_cast<int>(isa), std::memory_order_relaxed);
  return true;
}

}  // namespace mr
