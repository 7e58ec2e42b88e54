#include "store.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <string>

#include "dot.h"
#include "error.h"
#include "half.h"

namespace mg {
namespace {

constexpr uint64_t kAppendChunk = 16384;  // rows padded and converted at a time

const char* label_name(uint32_t label) { return label == MG_LABEL_ATTACK ? "attack" : "benign"; }

void check_vector(const float* vector, uint32_t dimensions, const char* what, uint64_t index) {
    double norm = 0;
    for (uint32_t i = 0; i < dimensions; i++) {
        require(std::isfinite(vector[i]), MG_ERR_NON_FINITE,
                std::string(what) + " " + std::to_string(index) + " has a NaN or infinite value at dimension " +
                    std::to_string(i));
        norm += double(vector[i]) * vector[i];
    }
    require(std::fabs(std::sqrt(norm) - 1.0) < 1e-3, MG_ERR_INVALID_ARGUMENT,
            std::string(what) + " " + std::to_string(index) + " is not L2-normalised (norm " +
                std::to_string(std::sqrt(norm)) + ")");
}

// Copies rows [begin, begin + count) to the padded layout and storage format of the store.
Rows pad_rows(const mg_store& store, const float* vectors, uint64_t begin, uint64_t count, std::vector<float>& f32,
              std::vector<uint16_t>& f16) {
    uint32_t dims = store.params.dimensions;
    bool half = store.params.storage == MG_STORAGE_F16;
    if (half) f16.assign(count * store.stride, 0); else f32.assign(count * store.stride, 0.0f);
    for (uint64_t r = 0; r < count; r++)
        for (uint32_t i = 0; i < dims; i++) {
            float value = vectors[(begin + r) * dims + i];
            if (half) f16[r * store.stride + i] = f32_to_f16(value); else f32[r * store.stride + i] = value;
        }
    return half ? Rows{nullptr, f16.data(), count} : Rows{f32.data(), nullptr, count};
}

void append_vectors(mg_store& store, uint32_t label, const float* vectors, uint64_t n_examples) {
    std::vector<float> f32;
    std::vector<uint16_t> f16;
    for (uint64_t begin = 0; begin < n_examples; begin += kAppendChunk) {
        uint64_t count = std::min(kAppendChunk, n_examples - begin);
        store.backend->append_rows(label, pad_rows(store, vectors, begin, count, f32, f16));
    }
}

void append_offsets(mg_store& store, uint32_t label, const mg_token_list& segments) {
    std::vector<uint64_t>& offsets = store.segment_offsets[label];
    uint64_t base = offsets.back() - segments.offsets[0];
    for (uint64_t i = 1; i <= segments.count; i++) offsets.push_back(base + segments.offsets[i]);
}

std::vector<float> padded_queries(const mg_store& store, const float* queries, uint64_t n_queries) {
    uint32_t dims = store.params.dimensions;
    std::vector<float> padded(n_queries * store.stride, 0.0f);
    for (uint64_t q = 0; q < n_queries; q++)
        for (uint32_t i = 0; i < dims; i++) {
            float value = queries[q * dims + i];
            require(std::isfinite(value), MG_ERR_NON_FINITE,
                    "query " + std::to_string(q) + " has a NaN or infinite value at dimension " + std::to_string(i));
            padded[q * store.stride + i] = value;
        }
    return padded;
}

uint32_t hits_for_label(const mg_store& store, uint32_t label, uint32_t k) {
    uint64_t count = store.segment_offsets[label].size() - 1;
    require(count > 0, MG_ERR_EMPTY_STORE, std::string("the ") + label_name(label) + " store is empty; add examples first");
    if (k <= count) return k;
    require(store.params.k_policy == MG_K_CLAMP, MG_ERR_K_TOO_LARGE,
            "k = " + std::to_string(k) + " is larger than the " + label_name(label) + " store (" +
                std::to_string(count) + " examples); lower k or use the clamp policy");
    return static_cast<uint32_t>(count);
}

void check_k(uint32_t k) {
    require(k >= 1, MG_ERR_INVALID_ARGUMENT, "k must be at least 1");
    require(k <= MG_MAX_K, MG_ERR_K_TOO_LARGE, "k = " + std::to_string(k) + " exceeds the maximum of " +
                                                   std::to_string(MG_MAX_K));
}

}  // namespace

void store_add(mg_store& store, uint32_t label, const float* vectors, uint64_t n_examples,
               const mg_token_list& segments) {
    require(label < MG_LABEL_COUNT, MG_ERR_OUT_OF_RANGE, "label must be 0 (attack) or 1 (benign), got " + std::to_string(label));
    require(vectors != nullptr || n_examples == 0, MG_ERR_INVALID_ARGUMENT, "vectors are missing");
    require(segments.count == n_examples, MG_ERR_INVALID_ARGUMENT,
            "got " + std::to_string(n_examples) + " vectors but " + std::to_string(segments.count) + " token segments");
    check_token_list(segments, "token segments");
    for (uint64_t i = 0; i < n_examples; i++) check_vector(vectors + i * store.params.dimensions, store.params.dimensions, "vector", i);
    std::unique_lock<std::shared_mutex> lock(store.lock);
    uint64_t first = segments.offsets[0], n_tokens = segments.offsets[n_examples] - first;
    require(store.segment_offsets[label].size() - 1 + n_examples < MG_NO_ID, MG_ERR_OUT_OF_RANGE, "a label holds at most 2^32 - 2 examples");
    store.backend->reserve(label, n_examples, n_tokens);
    append_vectors(store, label, vectors, n_examples);
    store.backend->append_tokens(label, segments.tokens + first, n_tokens);
    append_offsets(store, label, segments);
}

void store_search(mg_store& store, const float* queries, uint64_t n_queries, uint32_t k, uint32_t* ids,
                  float* distances) {
    require(queries != nullptr && ids != nullptr && distances != nullptr, MG_ERR_INVALID_ARGUMENT, "queries or outputs are missing");
    require(n_queries > 0, MG_ERR_INVALID_ARGUMENT, "no queries");
    check_k(k);
    std::vector<float> padded = padded_queries(store, queries, n_queries);
    std::shared_lock<std::shared_mutex> lock(store.lock);
    SearchJob job{padded.data(), n_queries, k, {hits_for_label(store, 0, k), hits_for_label(store, 1, k)}, ids, distances};
    store.backend->search(job);
}

void store_assemble(mg_store& store, const uint32_t* ids, uint64_t n_queries, uint32_t k, const mg_token_list& pieces,
                    const mg_token_list& requests, mg_result& out) {
    check_k(k);
    require(ids != nullptr, MG_ERR_INVALID_ARGUMENT, "ids are missing");
    require(pieces.count == 2ull * k + 4, MG_ERR_INVALID_ARGUMENT,
            "expected 2k + 4 = " + std::to_string(2ull * k + 4) + " template pieces for k = " + std::to_string(k) +
                ", got " + std::to_string(pieces.count));
    require(requests.count == n_queries, MG_ERR_INVALID_ARGUMENT,
            "expected one request token list per query (" + std::to_string(n_queries) + "), got " + std::to_string(requests.count));
    check_token_list(pieces, "template pieces");
    check_token_list(requests, "request tokens");
    std::shared_lock<std::shared_mutex> lock(store.lock);
    AssemblyPlan plan = plan_assembly(ids, n_queries, k, pieces, requests, store.segment_offsets);
    out.tokens = static_cast<uint32_t*>(std::malloc(std::max<uint64_t>(1, plan.n_tokens) * sizeof(uint32_t)));
    out.token_offsets = static_cast<uint64_t*>(std::malloc((n_queries + 1) * sizeof(uint64_t)));
    if (out.tokens == nullptr || out.token_offsets == nullptr) fail(MG_ERR_OUT_OF_MEMORY, "cannot allocate the assembled tokens");
    std::copy(plan.query_offsets.begin(), plan.query_offsets.end(), out.token_offsets);
    out.n_tokens = plan.n_tokens;
    store.backend->gather(plan, pieces, requests, out.tokens);
}

}  // namespace mg
