// Exact top-k over one label's rows, on the CPU, split across threads above a size threshold.
#pragma once

#include <cstdint>
#include <vector>

#include "topk.h"

namespace mg {

struct LabelRowsView {
    const float* f32;
    const uint16_t* f16;
    uint64_t count;
    size_t stride;
};

struct CpuSearchConfig {
    uint32_t n_threads;
    uint64_t parallel_threshold;
};

// One sorted hit list per query (at most k hits each).
std::vector<std::vector<Hit>> cpu_top_k(const LabelRowsView& rows, const float* queries, uint64_t n_queries,
                                        uint32_t k, const CpuSearchConfig& config);

}  // namespace mg
