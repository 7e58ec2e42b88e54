#include <cmath>

#include "dot.h"
#include "half.h"

namespace mg {
namespace {

float reduce_lanes(const float* acc) {
    float s4[4];
    for (int l = 0; l < 4; l++) s4[l] = acc[l] + acc[l + 4];
    float s2[2] = {s4[0] + s4[2], s4[1] + s4[3]};
    return s2[0] + s2[1];
}

template <typename Row, typename Load>
float dot_row(const float* query, const Row* row, size_t stride, Load load) {
    float acc[kDotLanes] = {};
    for (size_t i = 0; i < stride; i += kDotLanes)
        for (size_t l = 0; l < kDotLanes; l++) acc[l] = std::fma(query[i + l], load(row[i + l]), acc[l]);
    return reduce_lanes(acc);
}

void dot_f32(const float* query, const float* rows, size_t n_rows, size_t stride, float* out) {
    for (size_t r = 0; r < n_rows; r++) out[r] = dot_row(query, rows + r * stride, stride, [](float v) { return v; });
}

void dot_f16(const float* query, const uint16_t* rows, size_t n_rows, size_t stride, float* out) {
    for (size_t r = 0; r < n_rows; r++) out[r] = dot_row(query, rows + r * stride, stride, f16_to_f32);
}

}  // namespace

DotKernels scalar_dot_kernels() { return {dot_f32, dot_f16, "scalar"}; }

}  // namespace mg
