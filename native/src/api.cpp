// The C API: every entry point catches exceptions and returns a status.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>

#include "cuda_loader.h"
#include "dot.h"
#include "error.h"
#include "store.h"

namespace {

thread_local std::string last_error;

template <typename Body>
mg_status guarded(Body body) {
    try {
        body();
        last_error.clear();
        return MG_OK;
    } catch (const mg::Error& error) {
        last_error = error.what();
        return error.status();
    } catch (const std::bad_alloc&) {
        last_error = "out of memory";
        return MG_ERR_OUT_OF_MEMORY;
    } catch (const std::exception& error) {
        last_error = error.what();
        return MG_ERR_INTERNAL;
    } catch (...) {
        last_error = "unknown error";
        return MG_ERR_INTERNAL;
    }
}

void check_params(const mg_store_params& params) {
    mg::require(params.dimensions >= 1 && params.dimensions <= 8192, MG_ERR_INVALID_ARGUMENT,
                "dimensions must be between 1 and 8192, got " + std::to_string(params.dimensions));
    mg::require(params.storage == MG_STORAGE_F32 || params.storage == MG_STORAGE_F16, MG_ERR_INVALID_ARGUMENT, "unknown storage");
    mg::require(params.backend >= MG_BACKEND_AUTO && params.backend <= MG_BACKEND_CUDA, MG_ERR_INVALID_ARGUMENT, "unknown backend");
    mg::require(params.k_policy == MG_K_ERROR || params.k_policy == MG_K_CLAMP, MG_ERR_INVALID_ARGUMENT, "unknown k policy");
}

void check_dimensions(const mg_store& store, uint32_t dimensions, const char* what) {
    mg::require(dimensions == store.params.dimensions, MG_ERR_DIMENSION_MISMATCH,
                std::string(what) + " have dimension " + std::to_string(dimensions) + " but the store has " +
                    std::to_string(store.params.dimensions));
}

mg::BackendConfig backend_config(const mg_store& store) {
    const mg_store_params& p = store.params;
    return {store.stride, p.storage, store.n_threads, p.parallel_threshold, p.cuda_device,
            p.cuda_library != nullptr ? p.cuda_library : ""};
}

std::unique_ptr<mg::Backend> choose_backend(const mg_store& store) {
    mg::BackendConfig config = backend_config(store);
    if (store.params.backend == MG_BACKEND_CPU) return mg::make_cpu_backend(config);
    if (store.params.backend == MG_BACKEND_CUDA) return mg::make_cuda_backend(config);
    try {
        return mg::make_cuda_backend(config);
    } catch (const mg::Error&) {
        return mg::make_cpu_backend(config);
    }
}

void free_result_arrays(mg_result& result) {
    std::free(result.ids);
    std::free(result.distances);
    std::free(result.tokens);
    std::free(result.token_offsets);
    std::memset(&result, 0, sizeof result);
}

}  // namespace

extern "C" {

mg_store_params mg_store_default_params(void) {
    mg_store_params params;
    std::memset(&params, 0, sizeof params);
    params.dimensions = 384;
    params.storage = MG_STORAGE_F32;
    params.backend = MG_BACKEND_AUTO;
    params.k_policy = MG_K_ERROR;
    params.n_threads = 0;
    params.parallel_threshold = 32768;
    params.cuda_device = 0;
    params.cuda_library = nullptr;
    return params;
}

mg_status mg_store_create(const mg_store_params* params, mg_store** out_store) {
    if (out_store != nullptr) *out_store = nullptr;
    return guarded([&] {
        mg::require(params != nullptr && out_store != nullptr, MG_ERR_INVALID_ARGUMENT, "params and out_store are required");
        check_params(*params);
        auto store = std::make_unique<mg_store>();
        store->params = *params;
        store->stride = static_cast<uint32_t>(mg::padded_stride(params->dimensions));
        store->simd = mg::best_dot_kernels().name;
        store->n_threads = params->n_threads != 0 ? params->n_threads : std::max(1u, std::thread::hardware_concurrency());
        for (auto& offsets : store->segment_offsets) offsets.assign(1, 0);
        store->backend = choose_backend(*store);
        store->params.cuda_library = nullptr;  // not kept: the caller owns the string
        *out_store = store.release();
    });
}

void mg_store_free(mg_store* store) { delete store; }

mg_status mg_store_add(mg_store* store, uint32_t label, const float* vectors, uint64_t n_examples,
                       uint32_t dimensions, const mg_token_list* segments) {
    return guarded([&] {
        mg::require(store != nullptr && segments != nullptr, MG_ERR_INVALID_ARGUMENT, "store and segments are required");
        check_dimensions(*store, dimensions, "vectors");
        mg::store_add(*store, label, vectors, n_examples, *segments);
    });
}

uint64_t mg_store_count(const mg_store* store, uint32_t label) {
    if (store == nullptr || label >= MG_LABEL_COUNT) return 0;
    std::shared_lock<std::shared_mutex> lock(store->lock);
    return store->segment_offsets[label].size() - 1;
}

mg_status mg_store_search(mg_store* store, const float* queries, uint64_t n_queries, uint32_t dimensions, uint32_t k,
                          uint32_t* out_ids, float* out_distances) {
    return guarded([&] {
        mg::require(store != nullptr, MG_ERR_INVALID_ARGUMENT, "store is required");
        check_dimensions(*store, dimensions, "queries");
        mg::store_search(*store, queries, n_queries, k, out_ids, out_distances);
    });
}

mg_status mg_store_assemble(mg_store* store, const uint32_t* ids, uint64_t n_queries, uint32_t k,
                            const mg_token_list* pieces, const mg_token_list* requests, mg_result* out) {
    return guarded([&] {
        mg::require(store != nullptr && pieces != nullptr && requests != nullptr && out != nullptr,
                    MG_ERR_INVALID_ARGUMENT, "store, pieces, requests and out are required");
        std::memset(out, 0, sizeof *out);
        try {
            mg::store_assemble(*store, ids, n_queries, k, *pieces, *requests, *out);
        } catch (...) {
            free_result_arrays(*out);
            throw;
        }
    });
}

static void retrieve_and_assemble(mg_store& store, const float* queries, uint64_t n_queries, uint32_t k,
                                  const mg_token_list& pieces, const mg_token_list& requests, mg_result& out) {
    mg::require(requests.count == n_queries, MG_ERR_INVALID_ARGUMENT,
                "expected one request token list per query (" + std::to_string(n_queries) + "), got " +
                    std::to_string(requests.count));
    mg::require(k <= MG_MAX_K, MG_ERR_K_TOO_LARGE, "k exceeds the maximum of " + std::to_string(MG_MAX_K));
    uint64_t slots = n_queries * MG_LABEL_COUNT * k;
    uint32_t* ids = static_cast<uint32_t*>(std::malloc(std::max<uint64_t>(1, slots) * sizeof(uint32_t)));
    float* distances = static_cast<float*>(std::malloc(std::max<uint64_t>(1, slots) * sizeof(float)));
    if (ids == nullptr || distances == nullptr) {
        std::free(ids), std::free(distances);
        mg::fail(MG_ERR_OUT_OF_MEMORY, "cannot allocate the results");
    }
    out.ids = ids, out.distances = distances, out.n_queries = n_queries, out.k = k;
    mg::store_search(store, queries, n_queries, k, ids, distances);
    mg::store_assemble(store, ids, n_queries, k, pieces, requests, out);
}

mg_status mg_store_retrieve_and_assemble(mg_store* store, const float* queries, uint64_t n_queries,
                                         uint32_t dimensions, uint32_t k, const mg_token_list* pieces,
                                         const mg_token_list* requests, mg_result* out) {
    if (out != nullptr) std::memset(out, 0, sizeof *out);
    return guarded([&] {
        mg::require(store != nullptr && pieces != nullptr && requests != nullptr && out != nullptr,
                    MG_ERR_INVALID_ARGUMENT, "store, pieces, requests and out are required");
        check_dimensions(*store, dimensions, "queries");
        try {
            retrieve_and_assemble(*store, queries, n_queries, k, *pieces, *requests, *out);
        } catch (...) {
            free_result_arrays(*out);
            throw;
        }
    });
}

void mg_result_free(mg_result* result) {
    if (result != nullptr) free_result_arrays(*result);
}

mg_status mg_store_backend_info(const mg_store* store, mg_backend_info* out_info) {
    return guarded([&] {
        mg::require(store != nullptr && out_info != nullptr, MG_ERR_INVALID_ARGUMENT, "store and out_info are required");
        std::shared_lock<std::shared_mutex> lock(store->lock);
        store->backend->describe(*out_info);
        out_info->simd = store->simd;
        out_info->n_threads = store->n_threads;
        for (const auto& offsets : store->segment_offsets) out_info->host_bytes += offsets.capacity() * sizeof(uint64_t);
    });
}

int mg_cuda_available(const char* cuda_library) {
    std::string path = cuda_library != nullptr ? cuda_library : mg::default_cuda_library_path();
    return mg::load_cuda(path).api != nullptr;
}

const char* mg_cuda_unavailable_reason(const char* cuda_library) {
    std::string path = cuda_library != nullptr ? cuda_library : mg::default_cuda_library_path();
    return mg::load_cuda(path).reason.c_str();
}

const char* mg_cuda_default_library(void) {
    static const std::string path = mg::default_cuda_library_path();
    return path.c_str();
}

const char* mg_cpu_simd(void) { return mg::best_dot_kernels().name; }

const char* mg_last_error(void) { return last_error.c_str(); }

const char* mg_status_name(mg_status status) {
    static const char* const names[] = {"MG_OK", "MG_ERR_INVALID_ARGUMENT", "MG_ERR_DIMENSION_MISMATCH",
                                        "MG_ERR_EMPTY_STORE", "MG_ERR_NON_FINITE", "MG_ERR_K_TOO_LARGE",
                                        "MG_ERR_OUT_OF_RANGE", "MG_ERR_OUT_OF_MEMORY", "MG_ERR_BACKEND",
                                        "MG_ERR_INTERNAL"};
    return status >= 0 && status <= MG_ERR_INTERNAL ? names[status] : "MG_ERR_UNKNOWN";
}

}  // extern "C"
