// The store behind the mg_store handle: validation, per-label bookkeeping and a backend.
#pragma once

#include <memory>
#include <shared_mutex>
#include <vector>

#include "backend.h"

struct mg_store {
    mg_store_params params;
    uint32_t stride;
    std::unique_ptr<mg::Backend> backend;
    std::vector<uint64_t> segment_offsets[MG_LABEL_COUNT];  // count + 1 per label, host side
    const char* simd;
    uint32_t n_threads;
    mutable std::shared_mutex lock;  // add is exclusive, searches are shared
};

namespace mg {

void store_add(mg_store& store, uint32_t label, const float* vectors, uint64_t n_examples,
               const mg_token_list& segments);
void store_search(mg_store& store, const float* queries, uint64_t n_queries, uint32_t k, uint32_t* ids,
                  float* distances);
void store_assemble(mg_store& store, const uint32_t* ids, uint64_t n_queries, uint32_t k,
                    const mg_token_list& pieces, const mg_token_list& requests, mg_result& out);

}  // namespace mg
