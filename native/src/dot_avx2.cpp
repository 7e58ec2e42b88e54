// Compiled with -mavx2 -mfma -mf16c; only called after __builtin_cpu_supports says so.
#include <immintrin.h>

#include "dot.h"

namespace mg {
namespace {

float reduce_lanes(__m256 acc) {
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Four rows at once: independent accumulators hide the FMA latency.
template <typename Row>
void dot4(const float* query, const Row* rows, size_t stride, float* out) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < stride; i += kDotLanes) {
        __m256 q = _mm256_loadu_ps(query + i);
        a0 = _mm256_fmadd_ps(q, load8(rows + i), a0);
        a1 = _mm256_fmadd_ps(q, load8(rows + stride + i), a1);
        a2 = _mm256_fmadd_ps(q, load8(rows + 2 * stride + i), a2);
        a3 = _mm256_fmadd_ps(q, load8(rows + 3 * stride + i), a3);
    }
    out[0] = reduce_lanes(a0), out[1] = reduce_lanes(a1), out[2] = reduce_lanes(a2), out[3] = reduce_lanes(a3);
}

template <typename Row>
float dot1(const float* query, const Row* row, size_t stride) {
    __m256 acc = _mm256_setzero_ps();
    for (size_t i = 0; i < stride; i += kDotLanes) acc = _mm256_fmadd_ps(_mm256_loadu_ps(query + i), load8(row + i), acc);
    return reduce_lanes(acc);
}

template <typename Row>
void dot_rows(const float* query, const Row* rows, size_t n_rows, size_t stride, float* out) {
    size_t r = 0;
    for (; r + 4 <= n_rows; r += 4) dot4(query, rows + r * stride, stride, out + r);
    for (; r < n_rows; r++) out[r] = dot1(query, rows + r * stride, stride);
}

}  // namespace

DotKernels avx2_dot_kernels() { return {dot_rows<float>, dot_rows<uint16_t>, "avx2+fma+f16c"}; }

}  // namespace mg
