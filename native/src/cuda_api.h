/* The C ABI between libmcpguard (CPU) and libmcpguard_cuda.so, resolved with dlsym("mg_cuda_get_api").
   Functions return 0 on success, else write a message into err (err_size bytes) and return 1. */
#ifndef MCPGUARD_CUDA_API_H
#define MCPGUARD_CUDA_API_H

#include <stddef.h>
#include <stdint.h>

#include "copy_op.h"

#define MG_CUDA_ABI_VERSION 1

typedef struct mg_cuda_store mg_cuda_store;

typedef struct mg_cuda_api {
    uint32_t abi_version;
    const char* build_info; /* toolkit and architectures the library was built for */
    int (*device_count)(int* count, char* err, size_t err_size);
    mg_cuda_store* (*create)(int device, uint32_t stride, int f16, char* err, size_t err_size);
    void (*destroy)(mg_cuda_store* store);
    int (*reserve)(mg_cuda_store* store, uint32_t label, uint64_t n_rows, uint64_t n_tokens, char* err,
                   size_t err_size);
    int (*append_rows)(mg_cuda_store* store, uint32_t label, const void* rows, uint64_t n_rows, char* err,
                       size_t err_size);
    int (*append_tokens)(mg_cuda_store* store, uint32_t label, const uint32_t* tokens, uint64_t n_tokens,
                         char* err, size_t err_size);
    /* ids/distances: n_queries x 2 x k; labels get k_per_label[label] hits, the rest MG_NO_ID / +inf. */
    int (*search)(mg_cuda_store* store, const float* queries, uint64_t n_queries, uint32_t k,
                  const uint32_t* k_per_label, uint32_t* ids, float* distances, char* err, size_t err_size);
    int (*gather)(mg_cuda_store* store, const mg_copy_op* ops, uint64_t n_ops, const uint32_t* pieces,
                  uint64_t n_piece_tokens, const uint32_t* requests, uint64_t n_request_tokens, uint32_t* out,
                  uint64_t n_out, char* err, size_t err_size);
    const char* (*device_name)(const mg_cuda_store* store);
    uint64_t (*device_bytes)(const mg_cuda_store* store);
} mg_cuda_api;

#ifdef __cplusplus
extern "C" {
#endif
typedef const mg_cuda_api* (*mg_cuda_get_api_fn)(void);
#ifdef __cplusplus
}
#endif

#endif
