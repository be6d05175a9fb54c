// Times the BMAS kernel on the GRPO batch of ANCHORS.md from C++ (no Node), per ISA level.
// Usage: bench_core [pairsPerPrompt=8] [prompts=64] [m=256] [n=128] [dim=2048] [reps=5]
#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "../core/bmas.h"
#include "../core/isa.h"
#include "../core/thread_pool.h"

int main(int argc, char** argv) {
  auto arg = [&](int i, long def) { return argc > i ? std::atol(argv[i]) : def; };
  const long per = arg(1, 8), prompts = arg(2, 64), m = arg(3, 256), n = arg(4, 128), dim = arg(5, 2048), reps = arg(6, 5);
  const long V = std::getenv("BENCH_V") ? std::atol(std::getenv("BENCH_V")) : 151936;
  std::mt19937_64 rng(1);
  // Zipf(1.1) over ranks 1..V by inverse CDF on a table.
  std::vector<double> cdf(V);
  double acc = 0;
  for (long r = 0; r < V; ++r) cdf[r] = (acc += std::pow(double(r + 1), -1.1));
  std::uniform_real_distribution<double> u01;
  std::vector<std::int32_t> perm(V);
  for (long i = 0; i < V; ++i) perm[i] = std::int32_t(i);
  std::shuffle(perm.begin(), perm.end(), rng);
  auto draw = [&] {
    const double x = u01(rng) * acc;
    return perm[std::lower_bound(cdf.begin(), cdf.end(), x) - cdf.begin()];
  };
  std::vector<std::int32_t> resp, respOff{0}, ref, refOff{0}, pairRef;
  for (long g = 0; g < prompts; ++g) {
    for (long j = 0; j < n; ++j) ref.push_back(draw());
    refOff.push_back(std::int32_t(ref.size()));
    for (long p = 0; p < per; ++p) {
      for (long i = 0; i < m; ++i) resp.push_back(draw());
      respOff.push_back(std::int32_t(resp.size()));
      pairRef.push_back(std::int32_t(g));
    }
  }
  float* table = static_cast<float*>(std::calloc(std::size_t(V) * dim, sizeof(float)));  // untouched pages stay unmapped
  std::normal_distribution<float> nd;
  auto fill = [&](std::int32_t id) {
    float* row = table + std::size_t(id) * dim;
    if (row[0] != 0) return;
    double s = 0;
    for (long k = 0; k < dim; ++k) { row[k] = nd(rng); s += double(row[k]) * row[k]; }
    for (long k = 0; k < dim; ++k) row[k] = float(row[k] / std::sqrt(s));
  };
  for (auto id : resp) fill(id);
  for (auto id : ref) fill(id);
  const std::size_t N = pairRef.size();
  double flops = 0;
  for (long g = 0; g < prompts; ++g) {
    std::vector<std::int32_t> u(resp.begin() + respOff[g * per], resp.begin() + respOff[(g + 1) * per]);
    std::vector<std::int32_t> d(ref.begin() + refOff[g], ref.begin() + refOff[g + 1]);
    std::sort(u.begin(), u.end()); u.erase(std::unique(u.begin(), u.end()), u.end());
    std::sort(d.begin(), d.end()); d.erase(std::unique(d.begin(), d.end()), d.end());
    flops += 2.0 * double(u.size()) * double(d.size()) * double(dim);
  }
  std::printf("distinct-id work: %.2f GFLOP\n", flops * 1e-9);
  std::vector<float> out(3 * N);
  mr::TableView tv{table, V, dim};
  mr::BmasBatch b{resp.data(), resp.size(), respOff.data(), N, ref.data(), ref.size(), refOff.data(),
                  refOff.size() - 1, pairRef.data(), nullptr, 0, out.data()};
  std::printf("pairs %zu, m %ld, n %ld, dim %ld, threads %zu\n", N, m, n, dim, mr::pool_threads());
  for (mr::Isa isa : {mr::Isa::Scalar, mr::Isa::Avx2, mr::Isa::Avx512, mr::Isa::Neon}) {
    const char* only = std::getenv("BENCH_ISA");
    if (only && std::strcmp(only, mr::isa_name(isa)) != 0) continue;
    if (!mr::isa_force(isa)) continue;
    if (isa == mr::Isa::Scalar && dim * m * n * long(N) > 1L << 34) continue;  // too slow to bother
    double best = 1e30, best_cpu = 1e30;
    for (long r = 0; r < reps; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      timespec c0, c1;
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
      mr::ErrorInfo e;
      if (mr::bmas_batch(tv, b, &e) != mr::Status::Ok) { std::printf("error\n"); return 1; }
      best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
      best_cpu = std::min(best_cpu, (c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec - c0.tv_nsec) * 1e-6);
    }
    std::printf("%-7s best %8.2f ms wall (%.0f GFLOP/s), %8.2f ms cpu (all threads)  (score[0] %.6f)\n",
                mr::isa_name(isa), best, flops / best * 1e-6, best_cpu, out[0]);
  }
  return 0;
}
