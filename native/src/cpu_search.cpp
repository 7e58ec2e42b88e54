#include "cpu_search.h"

#include <algorithm>
#include <exception>
#include <thread>

#include "dot.h"

namespace mg {
namespace {

constexpr uint64_t kRowBlock = 256;  // rows scored per query before moving on (stays in L2)

void scan_block(const LabelRowsView& rows, uint64_t begin, uint64_t count, const float* query, float* dots) {
    const DotKernels& kernels = best_dot_kernels();
    if (rows.f32 != nullptr)
        kernels.f32(query, rows.f32 + begin * rows.stride, count, rows.stride, dots);
    else
        kernels.f16(query, rows.f16 + begin * rows.stride, count, rows.stride, dots);
}

// Scans rows [begin, end) for every query.
std::vector<TopK> scan_range(const LabelRowsView& rows, uint64_t begin, uint64_t end, const float* queries,
                             uint64_t n_queries, uint32_t k) {
    std::vector<TopK> best(n_queries, TopK(k));
    float dots[kRowBlock];
    for (uint64_t block = begin; block < end; block += kRowBlock) {
        uint64_t count = std::min(kRowBlock, end - block);
        for (uint64_t q = 0; q < n_queries; q++) {
            scan_block(rows, block, count, queries + q * rows.stride, dots);
            for (uint64_t r = 0; r < count; r++) best[q].push({1.0f - dots[r], static_cast<uint32_t>(block + r)});
        }
    }
    return best;
}

uint32_t threads_for(const LabelRowsView& rows, uint64_t n_queries, const CpuSearchConfig& config) {
    if (rows.count * n_queries < config.parallel_threshold) return 1;
    uint64_t by_rows = std::max<uint64_t>(1, rows.count / kRowBlock);
    return static_cast<uint32_t>(std::min<uint64_t>(config.n_threads, by_rows));
}

std::vector<std::vector<TopK>> scan_parallel(const LabelRowsView& rows, const float* queries, uint64_t n_queries,
                                             uint32_t k, uint32_t n_threads) {
    std::vector<std::vector<TopK>> parts(n_threads);
    std::vector<std::exception_ptr> errors(n_threads);
    auto work = [&](uint32_t t) {
        try {
            uint64_t begin = rows.count * t / n_threads, end = rows.count * (t + 1) / n_threads;
            parts[t] = scan_range(rows, begin, end, queries, n_queries, k);
        } catch (...) {
            errors[t] = std::current_exception();
        }
    };
    std::vector<std::thread> threads;
    for (uint32_t t = 1; t < n_threads; t++) threads.emplace_back(work, t);
    work(0);
    for (std::thread& thread : threads) thread.join();
    for (const std::exception_ptr& error : errors)
        if (error) std::rethrow_exception(error);  // the first error, in thread order
    return parts;
}

}  // namespace

std::vector<std::vector<Hit>> cpu_top_k(const LabelRowsView& rows, const float* queries, uint64_t n_queries,
                                        uint32_t k, const CpuSearchConfig& config) {
    uint32_t n_threads = threads_for(rows, n_queries, config);
    std::vector<std::vector<TopK>> parts = scan_parallel(rows, queries, n_queries, k, n_threads);
    std::vector<std::vector<Hit>> result(n_queries);
    for (uint64_t q = 0; q < n_queries; q++) {
        for (uint32_t t = 1; t < n_threads; t++) parts[0][q].merge(parts[t][q]);
        result[q] = parts[0][q].sorted();
    }
    return result;
}

}  // namespace mg
