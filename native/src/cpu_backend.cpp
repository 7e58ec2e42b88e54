// The CPU backend: rows and token segments in host vectors, SIMD scans, memcpy assembly.
#include <cmath>
#include <cstring>

#include "backend.h"
#include "cpu_search.h"
#include "dot.h"

namespace mg {
namespace {

struct LabelData {
    std::vector<float> f32;
    std::vector<uint16_t> f16;
    std::vector<uint32_t> tokens;
    uint64_t count = 0;
};

class CpuBackend final : public Backend {
  public:
    explicit CpuBackend(const BackendConfig& config) : config_(config) {}

    void reserve(uint32_t label, uint64_t n_rows, uint64_t n_tokens) override {
        LabelData& data = labels_[label];
        uint64_t values = (data.count + n_rows) * config_.stride;
        if (config_.storage == MG_STORAGE_F16)
            data.f16.reserve(values);
        else
            data.f32.reserve(values);
        data.tokens.reserve(data.tokens.size() + n_tokens);
    }

    void append_rows(uint32_t label, const Rows& rows) override {
        LabelData& data = labels_[label];
        uint64_t values = rows.count * config_.stride;
        if (rows.f16 != nullptr) data.f16.insert(data.f16.end(), rows.f16, rows.f16 + values);
        if (rows.f32 != nullptr) data.f32.insert(data.f32.end(), rows.f32, rows.f32 + values);
        data.count += rows.count;
    }

    void append_tokens(uint32_t label, const uint32_t* tokens, uint64_t n_tokens) override {
        labels_[label].tokens.insert(labels_[label].tokens.end(), tokens, tokens + n_tokens);
    }

    void search(const SearchJob& job) override {
        for (uint32_t label = 0; label < MG_LABEL_COUNT; label++) search_label(job, label);
    }

    void gather(const AssemblyPlan& plan, const mg_token_list& pieces, const mg_token_list& requests,
                uint32_t* out) override {
        const uint32_t* sources[] = {pieces.tokens, requests.tokens, labels_[0].tokens.data(),
                                     labels_[1].tokens.data()};
        for (const mg_copy_op& op : plan.ops)
            std::memcpy(out + op.output_offset, sources[op.source] + op.source_offset, op.length * sizeof(uint32_t));
    }

    void describe(mg_backend_info& info) const override {
        info.backend = MG_BACKEND_CPU;
        info.device_name = "";
        info.host_bytes = 0;
        for (const LabelData& data : labels_)
            info.host_bytes += data.f32.capacity() * 4 + data.f16.capacity() * 2 + data.tokens.capacity() * 4;
        info.device_bytes = 0;
    }

  private:
    void search_label(const SearchJob& job, uint32_t label) {
        const LabelData& data = labels_[label];
        LabelRowsView view{data.f32.empty() ? nullptr : data.f32.data(), data.f16.empty() ? nullptr : data.f16.data(),
                           data.count, config_.stride};
        auto hits = cpu_top_k(view, job.queries, job.n_queries, job.k_per_label[label],
                              {config_.n_threads, config_.parallel_threshold});
        for (uint64_t q = 0; q < job.n_queries; q++) {
            uint64_t base = (q * MG_LABEL_COUNT + label) * job.k;
            for (uint32_t r = 0; r < job.k; r++) {
                bool found = r < hits[q].size();
                job.ids[base + r] = found ? hits[q][r].id : MG_NO_ID;
                job.distances[base + r] = found ? hits[q][r].distance : INFINITY;
            }
        }
    }

    BackendConfig config_;
    LabelData labels_[MG_LABEL_COUNT];
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const BackendConfig& config) { return std::make_unique<CpuBackend>(config); }

}  // namespace mg
