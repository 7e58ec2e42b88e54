/*
 * mcpguard native core: RAG-Pref preference stores, exact top-k retrieval and prompt-token assembly.
 *
 * A store holds two labels (MG_LABEL_ATTACK, MG_LABEL_BENIGN). Each label keeps its examples'
 * L2-normalised embeddings in one contiguous array and, per example, its prompt segment already
 * tokenized. One call retrieves the k nearest examples of each label for a batch of queries and
 * writes the exact token sequence the decision model evaluates.
 *
 * Conventions:
 *  - Every function that can fail returns an mg_status; MG_OK is 0. mg_last_error() gives the
 *    message of the last failure on the calling thread. No function throws or aborts.
 *  - Similarity is the dot product of normalised vectors (cosine); distances are reported as
 *    1 - dot. Ranking is by distance, ties go to the lower index (the order of mg_store_add).
 *    The CPU (scalar and AVX2) and CUDA backends sum in the same order, so they return
 *    bit-identical distances, neighbours and tokens.
 *  - A token list is a flat array plus offsets: item i is tokens[offsets[i] .. offsets[i + 1]).
 *  - A store may be searched from several threads at once; mg_store_add must not run concurrently
 *    with any other call on the same store (the store serialises them with a lock).
 */
#ifndef MCPGUARD_H
#define MCPGUARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define MG_API __declspec(dllexport)
#else
#define MG_API __attribute__((visibility("default")))
#endif

/** Number of labels in a store. */
#define MG_LABEL_COUNT 2
/** Id written into result slots left empty when k is clamped (see MG_K_CLAMP). */
#define MG_NO_ID UINT32_MAX
/** Largest k the store accepts (per label). */
#define MG_MAX_K 128

typedef enum mg_status {
    MG_OK = 0,
    MG_ERR_INVALID_ARGUMENT = 1, /**< null pointer, bad offsets, k = 0, wrong piece count, ... */
    MG_ERR_DIMENSION_MISMATCH = 2, /**< vectors or queries do not have the store's dimension */
    MG_ERR_EMPTY_STORE = 3,        /**< a label has no examples to retrieve from */
    MG_ERR_NON_FINITE = 4,         /**< NaN or infinity in a vector or a query */
    MG_ERR_K_TOO_LARGE = 5,        /**< k exceeds a label's size (policy MG_K_ERROR) or MG_MAX_K */
    MG_ERR_OUT_OF_RANGE = 6,       /**< an example id or label outside the store */
    MG_ERR_OUT_OF_MEMORY = 7,      /**< host or device allocation failed */
    MG_ERR_BACKEND = 8,            /**< the requested backend is unavailable or failed */
    MG_ERR_INTERNAL = 9            /**< a bug: please report it */
} mg_status;

typedef enum mg_label { MG_LABEL_ATTACK = 0, MG_LABEL_BENIGN = 1 } mg_label;

/** How embeddings are kept. Queries are always f32; f16 storage halves memory. */
typedef enum mg_storage { MG_STORAGE_F32 = 0, MG_STORAGE_F16 = 1 } mg_storage;

/** Where retrieval and assembly run. AUTO picks CUDA when a driver and a device are present. */
typedef enum mg_backend { MG_BACKEND_AUTO = 0, MG_BACKEND_CPU = 1, MG_BACKEND_CUDA = 2 } mg_backend;

/** What happens when k exceeds the examples of a label. */
typedef enum mg_k_policy {
    MG_K_ERROR = 0, /**< fail with MG_ERR_K_TOO_LARGE (default) */
    MG_K_CLAMP = 1  /**< return all examples of that label; unused slots get MG_NO_ID and +inf */
} mg_k_policy;

typedef struct mg_store_params {
    uint32_t dimensions;         /**< embedding dimension (default 384, all-MiniLM-L6-v2) */
    mg_storage storage;          /**< default MG_STORAGE_F32 */
    mg_backend backend;          /**< default MG_BACKEND_AUTO */
    mg_k_policy k_policy;        /**< default MG_K_ERROR */
    uint32_t n_threads;          /**< CPU threads; 0 = all hardware threads */
    uint64_t parallel_threshold; /**< CPU: use threads when queries x examples reaches this (default 32768) */
    int32_t cuda_device;         /**< CUDA device ordinal (default 0) */
    const char* cuda_library;    /**< path of libmcpguard_cuda.so; NULL = beside this library */
} mg_store_params;

/** A read-only list of token sequences: item i is tokens[offsets[i] .. offsets[i + 1]). */
typedef struct mg_token_list {
    const uint32_t* tokens;
    uint64_t n_tokens;       /**< length of tokens; every offset must be <= n_tokens */
    const uint32_t* offsets; /**< count + 1 non-decreasing entries */
    uint64_t count;
} mg_token_list;

/**
 * The output of a retrieval. ids and distances are laid out [query][label][rank], k slots per
 * label. tokens holds one assembled sequence per query: query q is
 * tokens[token_offsets[q] .. token_offsets[q + 1]). Free the arrays with mg_result_free.
 */
typedef struct mg_result {
    uint64_t n_queries;
    uint32_t k;
    uint32_t* ids;
    float* distances;
    uint32_t* tokens;
    uint64_t n_tokens;
    uint64_t* token_offsets;
} mg_result;

/** What a store runs on. */
typedef struct mg_backend_info {
    mg_backend backend;       /**< MG_BACKEND_CPU or MG_BACKEND_CUDA: what is really in use */
    const char* simd;         /**< "avx2+fma+f16c" or "scalar" (CPU kernels) */
    const char* device_name;  /**< GPU name, or "" on CPU */
    uint32_t n_threads;       /**< CPU threads used above the parallel threshold */
    uint64_t host_bytes;      /**< host memory held by the store */
    uint64_t device_bytes;    /**< device memory held by the store */
} mg_backend_info;

typedef struct mg_store mg_store;

/** Default parameters: 384 dimensions, f32, AUTO backend, MG_K_ERROR. */
MG_API mg_store_params mg_store_default_params(void);

/** Creates an empty store. On failure *out_store is NULL. */
MG_API mg_status mg_store_create(const mg_store_params* params, mg_store** out_store);

/** Frees the store and its host and device memory. NULL is a no-op. */
MG_API void mg_store_free(mg_store* store);

/**
 * Appends n_examples examples to a label. vectors: n_examples x dimensions f32, L2-normalised
 * (|norm - 1| < 1e-3) and finite; dimensions must equal the store's (MG_ERR_DIMENSION_MISMATCH).
 * segments: n_examples token sequences (segments.count must equal n_examples).
 * Nothing is added when validation fails.
 */
MG_API mg_status mg_store_add(mg_store* store, uint32_t label, const float* vectors, uint64_t n_examples,
                              uint32_t dimensions, const mg_token_list* segments);

/** Number of examples of a label (0 for an unknown label or a NULL store). */
MG_API uint64_t mg_store_count(const mg_store* store, uint32_t label);

/**
 * Exact top-k per label for n_queries queries (n_queries x dimensions f32, finite; dimensions must
 * equal the store's). out_ids and out_distances receive n_queries x MG_LABEL_COUNT x k entries.
 * 1 <= k <= MG_MAX_K; k above a label's size fails or clamps according to params.k_policy.
 * Every label must hold at least one example (MG_ERR_EMPTY_STORE).
 */
MG_API mg_status mg_store_search(mg_store* store, const float* queries, uint64_t n_queries, uint32_t dimensions,
                                 uint32_t k, uint32_t* out_ids, float* out_distances);

/**
 * Template pieces for k ranks: pieces.count must be 2k + 4, in this order
 *   [0]            prefix
 *   [1 .. k]       header before the attack example of rank r (piece 1 + r)
 *   [k + 1]        between the attack and the benign examples
 *   [k + 2 .. 2k+1] header before the benign example of rank r (piece k + 2 + r)
 *   [2k + 2]       before the request
 *   [2k + 3]       suffix
 * and each query's output is
 *   prefix, (attack header r, attack segment r) for each rank, between,
 *   (benign header r, benign segment r) for each rank, before-request, request tokens, suffix.
 * Ranks whose id is MG_NO_ID (clamped k) are left out, header included.
 */
MG_API mg_status mg_store_assemble(mg_store* store, const uint32_t* ids, uint64_t n_queries, uint32_t k,
                                   const mg_token_list* pieces, const mg_token_list* requests, mg_result* out);

/**
 * mg_store_search followed by mg_store_assemble in one call, on the store's backend (on CUDA the
 * search is one fused distance + top-k kernel and the tokens are gathered on the device).
 * requests.count must equal n_queries. On success fill *out; release it with mg_result_free.
 */
MG_API mg_status mg_store_retrieve_and_assemble(mg_store* store, const float* queries, uint64_t n_queries,
                                                uint32_t dimensions, uint32_t k, const mg_token_list* pieces,
                                                const mg_token_list* requests, mg_result* out);

/** Frees the arrays of a result and zeroes it. NULL is a no-op. */
MG_API void mg_result_free(mg_result* result);

/** Fills *out_info with what the store runs on. */
MG_API mg_status mg_store_backend_info(const mg_store* store, mg_backend_info* out_info);

/** True when a CUDA driver, at least one device and libmcpguard_cuda.so were found (NULL: beside this library). */
MG_API int mg_cuda_available(const char* cuda_library);

/** Why CUDA is unavailable ("" when it is available); same lookup as mg_cuda_available. */
MG_API const char* mg_cuda_unavailable_reason(const char* cuda_library);

/** The path mg_cuda_available tries when given NULL. */
MG_API const char* mg_cuda_default_library(void);

/** The CPU kernels chosen at run time: "avx2+fma+f16c" or "scalar". */
MG_API const char* mg_cpu_simd(void);

/** The message of the last failure on this thread ("" when none). */
MG_API const char* mg_last_error(void);

/** A short name for a status, e.g. "MG_ERR_NON_FINITE". */
MG_API const char* mg_status_name(mg_status status);

#ifdef __cplusplus
}
#endif

#endif /* MCPGUARD_H */
