// Dot products of one query with consecutive rows, in one fixed summation order:
// 8 lanes, lane l accumulates fma(q[i], v[i], acc[l]) over i = l, l + 8, ...; then
// s4[l] = acc[l] + acc[l + 4], s2[l] = s4[l] + s4[l + 2], dot = s2[0] + s2[1].
// The scalar, AVX2 and CUDA kernels all follow it, so their results are bit-identical.
// Rows are `stride` floats apart; stride is a multiple of 8 (zero padded).
#pragma once

#include <cstddef>
#include <cstdint>

namespace mg {

constexpr size_t kDotLanes = 8;

struct DotKernels {
    void (*f32)(const float* query, const float* rows, size_t n_rows, size_t stride, float* out);
    void (*f16)(const float* query, const uint16_t* rows, size_t n_rows, size_t stride, float* out);
    const char* name;
};

DotKernels scalar_dot_kernels();
DotKernels avx2_dot_kernels();

// The fastest kernels this CPU supports (checked once, at run time).
const DotKernels& best_dot_kernels();

inline size_t padded_stride(size_t dimensions) { return (dimensions + kDotLanes - 1) / kDotLanes * kDotLanes; }

}  // namespace mg
