// What a store delegates to: the CPU backend or the CUDA backend (a dlopen'ed library).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "assembly_plan.h"
#include "mcpguard.h"

namespace mg {

// Rows handed to a backend: padded to the store's stride, already in the storage format.
struct Rows {
    const float* f32 = nullptr;     // set for MG_STORAGE_F32
    const uint16_t* f16 = nullptr;  // set for MG_STORAGE_F16
    uint64_t count = 0;
};

struct SearchJob {
    const float* queries;  // n_queries x stride, padded
    uint64_t n_queries;
    uint32_t k;                           // slots per label in the output
    uint32_t k_per_label[MG_LABEL_COUNT];  // hits to find per label (<= k)
    uint32_t* ids;
    float* distances;
};

class Backend {
  public:
    virtual ~Backend() = default;
    virtual void reserve(uint32_t label, uint64_t n_rows, uint64_t n_tokens) = 0;
    virtual void append_rows(uint32_t label, const Rows& rows) = 0;
    virtual void append_tokens(uint32_t label, const uint32_t* tokens, uint64_t n_tokens) = 0;
    virtual void search(const SearchJob& job) = 0;
    virtual void gather(const AssemblyPlan& plan, const mg_token_list& pieces, const mg_token_list& requests,
                        uint32_t* out) = 0;
    virtual void describe(mg_backend_info& info) const = 0;
};

struct BackendConfig {
    uint32_t stride;
    mg_storage storage;
    uint32_t n_threads;
    uint64_t parallel_threshold;
    int32_t cuda_device;
    std::string cuda_library;
};

std::unique_ptr<Backend> make_cpu_backend(const BackendConfig& config);
// Throws Error(MG_ERR_BACKEND) with the reason when CUDA cannot be used.
std::unique_ptr<Backend> make_cuda_backend(const BackendConfig& config);

}  // namespace mg
