// libmcpguard_cuda.so: the store resident on the GPU, a fused distance + per-label top-k kernel and a
// gather kernel for prompt assembly. Loaded with dlopen by libmcpguard after a driver was found.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include "../cuda_api.h"
#include "mcpguard.h"

#ifndef MG_CUDA_ARCHITECTURES
#define MG_CUDA_ARCHITECTURES "unknown"
#endif

namespace {

constexpr int kLanes = 8;  // threads per row; the summation order of dot.h
constexpr int kThreads = 256;
constexpr int kGroups = kThreads / kLanes;
constexpr uint32_t kMaxGridY = 65535;

struct DeviceHit {
    float distance;
    uint32_t id;
};

void check(cudaError_t status, const char* what) {
    if (status != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
}

// A grow-only device allocation.
struct DeviceBuffer {
    void* data = nullptr;
    uint64_t size = 0;
    uint64_t capacity = 0;

    void reserve(uint64_t bytes, cudaStream_t stream) {
        if (bytes <= capacity) return;
        void* grown = nullptr;
        check(cudaMalloc(&grown, bytes), "cudaMalloc");
        if (size > 0) check(cudaMemcpyAsync(grown, data, size, cudaMemcpyDeviceToDevice, stream), "copy on grow");
        check(cudaStreamSynchronize(stream), "grow");
        cudaFree(data);
        data = grown, capacity = bytes;
    }
    void append(const void* host, uint64_t bytes, cudaStream_t stream) {
        if (size + bytes > capacity) reserve(std::max(size + bytes, capacity * 3 / 2), stream);
        check(cudaMemcpyAsync(static_cast<char*>(data) + size, host, bytes, cudaMemcpyHostToDevice, stream), "upload");
        size += bytes;
    }
    void upload(const void* host, uint64_t bytes, cudaStream_t stream) {
        size = 0;
        append(host, bytes, stream);
    }
    void release() {
        cudaFree(data);
        data = nullptr, size = capacity = 0;
    }
};

struct LabelOnDevice {
    DeviceBuffer rows;
    DeviceBuffer tokens;
    uint64_t count = 0;
};

struct LabelRows {
    const void* rows;
    uint64_t count;
    uint32_t k;
};

struct SearchArgs {
    LabelRows labels[MG_LABEL_COUNT];
    const float* queries;
    uint32_t stride;
    uint32_t k_slots;
    uint64_t first_query;
    DeviceHit* partials;  // [query][label][block][k_slots]
};

__device__ bool ranks_before(DeviceHit a, DeviceHit b) {
    return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
}

// Inserts into a sorted list of at most k hits.
__device__ void insert_hit(DeviceHit* list, uint32_t& size, uint32_t k, DeviceHit hit) {
    if (size == k && !ranks_before(hit, list[k - 1])) return;
    uint32_t pos = size < k ? size++ : k - 1;
    for (; pos > 0 && ranks_before(hit, list[pos - 1]); pos--) list[pos] = list[pos - 1];
    list[pos] = hit;
}

__device__ uint32_t select_top_k(const DeviceHit* candidates, uint64_t n, uint32_t k, DeviceHit* out) {
    uint32_t size = 0;
    for (uint64_t i = 0; i < n; i++)
        if (candidates[i].id != MG_NO_ID) insert_hit(out, size, k, candidates[i]);
    return size;
}

__device__ void write_list(const DeviceHit* list, uint32_t size, uint32_t slots, DeviceHit* out) {
    for (uint32_t r = 0; r < slots; r++) out[r] = r < size ? list[r] : DeviceHit{INFINITY, MG_NO_ID};
}

__device__ inline float load_value(const float* row, uint32_t i) { return row[i]; }
__device__ inline float load_value(const __half* row, uint32_t i) { return __half2float(row[i]); }

// The dot product of dot.h's summation order, computed by 8 threads; valid on lane 0.
template <typename Row>
__device__ float group_dot(const float* query, const Row* row, uint32_t stride, int lane) {
    float acc = 0.0f;
    for (uint32_t i = lane; i < stride; i += kLanes) acc = fmaf(query[i], load_value(row, i), acc);
    acc = __fadd_rn(acc, __shfl_down_sync(0xffffffffu, acc, 4, kLanes));
    acc = __fadd_rn(acc, __shfl_down_sync(0xffffffffu, acc, 2, kLanes));
    return __fadd_rn(acc, __shfl_down_sync(0xffffffffu, acc, 1, kLanes));
}

// One block scores a slice of one label's rows against one query and keeps the block's top k.
template <typename Row>
__global__ void search_kernel(SearchArgs args) {
    extern __shared__ float shared[];
    float* query = shared;
    DeviceHit* group_hits = reinterpret_cast<DeviceHit*>(query + args.stride);
    DeviceHit* block_best = group_hits + kGroups * args.k_slots;
    const uint64_t q = args.first_query + blockIdx.y;
    const LabelRows label = args.labels[blockIdx.z];
    for (uint32_t i = threadIdx.x; i < args.stride; i += blockDim.x) query[i] = args.queries[q * args.stride + i];
    __syncthreads();

    const int group = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
    DeviceHit* mine = group_hits + group * args.k_slots;
    uint32_t size = 0;
    const Row* rows = static_cast<const Row*>(label.rows);
    for (uint64_t base = uint64_t(blockIdx.x) * kGroups; base < label.count; base += uint64_t(gridDim.x) * kGroups) {
        const uint64_t row = base + group;
        const bool valid = row < label.count;  // every lane runs the shuffles, valid or not
        const float dot = group_dot(query, rows + (valid ? row : 0) * args.stride, args.stride, lane);
        if (lane == 0 && valid) insert_hit(mine, size, label.k, {__fsub_rn(1.0f, dot), uint32_t(row)});
    }
    if (lane == 0) write_list(mine, size, args.k_slots, mine);
    __syncthreads();
    if (threadIdx.x != 0) return;
    uint32_t found = select_top_k(group_hits, uint64_t(kGroups) * args.k_slots, label.k, block_best);
    uint64_t slot = ((blockIdx.y * MG_LABEL_COUNT + blockIdx.z) * uint64_t(gridDim.x) + blockIdx.x) * args.k_slots;
    write_list(block_best, found, args.k_slots, args.partials + slot);
}

// Merges the blocks' lists of one (query, label) into the final top k.
__global__ void finish_kernel(const DeviceHit* partials, uint32_t n_blocks, uint32_t k_slots, uint32_t k_attack,
                              uint32_t k_benign, uint64_t first_query, uint32_t* ids, float* distances) {
    __shared__ DeviceHit best[MG_MAX_K];
    if (threadIdx.x != 0) return;
    const uint32_t label = blockIdx.y, k = label == 0 ? k_attack : k_benign;
    const uint64_t list = blockIdx.x * MG_LABEL_COUNT + label;
    uint32_t found = select_top_k(partials + list * n_blocks * k_slots, uint64_t(n_blocks) * k_slots, k, best);
    const uint64_t out = ((first_query + blockIdx.x) * MG_LABEL_COUNT + label) * k_slots;
    for (uint32_t r = 0; r < k_slots; r++) {
        ids[out + r] = r < found ? best[r].id : MG_NO_ID;
        distances[out + r] = r < found ? best[r].distance : INFINITY;
    }
}

struct GatherSources {
    const uint32_t* sources[4];  // indexed by mg_copy_source
};

// One block per copy: writes a template piece, a request or a stored segment into the output.
__global__ void gather_kernel(const mg_copy_op* ops, GatherSources sources, uint32_t* out) {
    const mg_copy_op op = ops[blockIdx.x];
    const uint32_t* from = sources.sources[op.source] + op.source_offset;
    for (uint64_t i = threadIdx.x; i < op.length; i += blockDim.x) out[op.output_offset + i] = from[i];
}

}  // namespace

struct mg_cuda_store {
    int device = 0;
    uint32_t stride = 0;
    bool f16 = false;
    int sm_count = 1;
    char name[256] = {};
    cudaStream_t stream = nullptr;
    std::mutex mutex;
    LabelOnDevice labels[MG_LABEL_COUNT];
    DeviceBuffer queries, partials, ids, distances, ops, pieces, requests, out;

    uint64_t row_bytes() const { return uint64_t(stride) * (f16 ? 2 : 4); }
};

namespace {

template <typename Body>
int guarded(mg_cuda_store* store, char* err, size_t err_size, Body body) {
    try {
        std::unique_lock<std::mutex> lock;
        if (store != nullptr) {
            lock = std::unique_lock<std::mutex>(store->mutex);
            check(cudaSetDevice(store->device), "cudaSetDevice");
        }
        body();
        return 0;
    } catch (const std::exception& error) {
        std::snprintf(err, err_size, "%s", error.what());
    } catch (...) {
        std::snprintf(err, err_size, "unknown error");
    }
    return 1;
}

uint32_t blocks_for(const mg_cuda_store& store, uint64_t rows) {
    uint64_t needed = (rows + kGroups - 1) / kGroups;
    return uint32_t(std::max<uint64_t>(1, std::min<uint64_t>(needed, uint64_t(store.sm_count) * 4)));
}

template <typename Row>
void launch_search(mg_cuda_store& store, SearchArgs args, uint32_t n_blocks, uint32_t n_queries) {
    size_t shared = args.stride * sizeof(float) + (kGroups + 1) * size_t(args.k_slots) * sizeof(DeviceHit);
    if (shared > 48 * 1024)
        check(cudaFuncSetAttribute(search_kernel<Row>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared)),
              "shared memory size");
    search_kernel<Row><<<dim3(n_blocks, n_queries, MG_LABEL_COUNT), kThreads, shared, store.stream>>>(args);
    check(cudaGetLastError(), "search kernel launch");
}

void search_chunk(mg_cuda_store& store, SearchArgs args, uint32_t n_blocks, uint32_t n_queries,
                  const uint32_t* k_per_label) {
    if (store.f16)
        launch_search<__half>(store, args, n_blocks, n_queries);
    else
        launch_search<float>(store, args, n_blocks, n_queries);
    finish_kernel<<<dim3(n_queries, MG_LABEL_COUNT), 32, 0, store.stream>>>(
        args.partials, n_blocks, args.k_slots, k_per_label[0], k_per_label[1], args.first_query,
        static_cast<uint32_t*>(store.ids.data), static_cast<float*>(store.distances.data));
    check(cudaGetLastError(), "finish kernel launch");
}

void search(mg_cuda_store& store, const float* queries, uint64_t n_queries, uint32_t k, const uint32_t* k_per_label,
            uint32_t* ids, float* distances) {
    uint64_t slots = n_queries * MG_LABEL_COUNT * k;
    uint32_t n_blocks = blocks_for(store, std::max(store.labels[0].count, store.labels[1].count));
    uint64_t chunk = std::min<uint64_t>(n_queries, kMaxGridY);
    store.queries.upload(queries, n_queries * store.stride * sizeof(float), store.stream);
    store.partials.reserve(chunk * MG_LABEL_COUNT * n_blocks * k * sizeof(DeviceHit), store.stream);
    store.ids.reserve(slots * sizeof(uint32_t), store.stream);
    store.distances.reserve(slots * sizeof(float), store.stream);
    SearchArgs args{};
    for (uint32_t label = 0; label < MG_LABEL_COUNT; label++)
        args.labels[label] = {store.labels[label].rows.data, store.labels[label].count, k_per_label[label]};
    args.queries = static_cast<const float*>(store.queries.data), args.stride = store.stride, args.k_slots = k;
    args.partials = static_cast<DeviceHit*>(store.partials.data);
    for (uint64_t first = 0; first < n_queries; first += chunk) {
        args.first_query = first;
        search_chunk(store, args, n_blocks, uint32_t(std::min(chunk, n_queries - first)), k_per_label);
    }
    check(cudaMemcpyAsync(ids, store.ids.data, slots * sizeof(uint32_t), cudaMemcpyDeviceToHost, store.stream), "ids");
    check(cudaMemcpyAsync(distances, store.distances.data, slots * sizeof(float), cudaMemcpyDeviceToHost, store.stream),
          "distances");
    check(cudaStreamSynchronize(store.stream), "search");
}

void gather(mg_cuda_store& store, const mg_copy_op* ops, uint64_t n_ops, const uint32_t* pieces, uint64_t n_pieces,
            const uint32_t* requests, uint64_t n_requests, uint32_t* out, uint64_t n_out) {
    store.ops.upload(ops, n_ops * sizeof(mg_copy_op), store.stream);
    store.pieces.upload(pieces, n_pieces * sizeof(uint32_t), store.stream);
    store.requests.upload(requests, n_requests * sizeof(uint32_t), store.stream);
    store.out.reserve(std::max<uint64_t>(1, n_out) * sizeof(uint32_t), store.stream);
    GatherSources sources{{static_cast<const uint32_t*>(store.pieces.data), static_cast<const uint32_t*>(store.requests.data),
                           static_cast<const uint32_t*>(store.labels[0].tokens.data),
                           static_cast<const uint32_t*>(store.labels[1].tokens.data)}};
    for (uint64_t first = 0; first < n_ops; first += 0x7fffffff) {
        uint32_t count = uint32_t(std::min<uint64_t>(n_ops - first, 0x7fffffff));
        gather_kernel<<<count, 128, 0, store.stream>>>(static_cast<const mg_copy_op*>(store.ops.data) + first, sources,
                                                       static_cast<uint32_t*>(store.out.data));
        check(cudaGetLastError(), "gather kernel launch");
    }
    check(cudaMemcpyAsync(out, store.out.data, n_out * sizeof(uint32_t), cudaMemcpyDeviceToHost, store.stream), "tokens");
    check(cudaStreamSynchronize(store.stream), "gather");
}

mg_cuda_store* create(int device, uint32_t stride, int f16) {
    auto store = new mg_cuda_store();
    try {
        store->device = device, store->stride = stride, store->f16 = f16 != 0;
        check(cudaSetDevice(device), "cudaSetDevice");
        cudaDeviceProp props{};
        check(cudaGetDeviceProperties(&props, device), "cudaGetDeviceProperties");
        std::snprintf(store->name, sizeof store->name, "%s", props.name);
        store->sm_count = props.multiProcessorCount;
        check(cudaStreamCreateWithFlags(&store->stream, cudaStreamNonBlocking), "cudaStreamCreate");
        return store;
    } catch (...) {
        delete store;
        throw;
    }
}

void destroy(mg_cuda_store* store) {
    if (store == nullptr) return;
    cudaSetDevice(store->device);
    for (LabelOnDevice& label : store->labels) label.rows.release(), label.tokens.release();
    for (DeviceBuffer* buffer : {&store->queries, &store->partials, &store->ids, &store->distances, &store->ops,
                                 &store->pieces, &store->requests, &store->out})
        buffer->release();
    if (store->stream != nullptr) cudaStreamDestroy(store->stream);
    delete store;
}

uint64_t device_bytes(const mg_cuda_store* store) {
    uint64_t total = 0;
    for (const LabelOnDevice& label : store->labels) total += label.rows.capacity + label.tokens.capacity;
    for (const DeviceBuffer* buffer : {&store->queries, &store->partials, &store->ids, &store->distances, &store->ops,
                                       &store->pieces, &store->requests, &store->out})
        total += buffer->capacity;
    return total;
}

const mg_cuda_api kApi = {
    MG_CUDA_ABI_VERSION,
    "CUDA " MG_CUDA_TOOLKIT " architectures " MG_CUDA_ARCHITECTURES,
    [](int* count, char* err, size_t err_size) {
        return guarded(nullptr, err, err_size, [&] { check(cudaGetDeviceCount(count), "cudaGetDeviceCount"); });
    },
    [](int device, uint32_t stride, int f16, char* err, size_t err_size) {
        mg_cuda_store* store = nullptr;
        guarded(nullptr, err, err_size, [&] { store = create(device, stride, f16); });
        return store;
    },
    destroy,
    [](mg_cuda_store* s, uint32_t label, uint64_t n_rows, uint64_t n_tokens, char* err, size_t err_size) {
        return guarded(s, err, err_size, [&] {
            LabelOnDevice& l = s->labels[label];
            l.rows.reserve((l.count + n_rows) * s->row_bytes(), s->stream);
            l.tokens.reserve(l.tokens.size + n_tokens * sizeof(uint32_t), s->stream);
        });
    },
    [](mg_cuda_store* s, uint32_t label, const void* rows, uint64_t n_rows, char* err, size_t err_size) {
        return guarded(s, err, err_size, [&] {
            s->labels[label].rows.append(rows, n_rows * s->row_bytes(), s->stream);
            check(cudaStreamSynchronize(s->stream), "append rows");
            s->labels[label].count += n_rows;
        });
    },
    [](mg_cuda_store* s, uint32_t label, const uint32_t* tokens, uint64_t n_tokens, char* err, size_t err_size) {
        return guarded(s, err, err_size, [&] {
            s->labels[label].tokens.append(tokens, n_tokens * sizeof(uint32_t), s->stream);
            check(cudaStreamSynchronize(s->stream), "append tokens");
        });
    },
    [](mg_cuda_store* s, const float* queries, uint64_t n_queries, uint32_t k, const uint32_t* k_per_label,
       uint32_t* ids, float* distances, char* err, size_t err_size) {
        return guarded(s, err, err_size, [&] { search(*s, queries, n_queries, k, k_per_label, ids, distances); });
    },
    [](mg_cuda_store* s, const mg_copy_op* ops, uint64_t n_ops, const uint32_t* pieces, uint64_t n_pieces,
       const uint32_t* requests, uint64_t n_requests, uint32_t* out, uint64_t n_out, char* err, size_t err_size) {
        return guarded(s, err, err_size, [&] { gather(*s, ops, n_ops, pieces, n_pieces, requests, n_requests, out, n_out); });
    },
    [](const mg_cuda_store* s) -> const char* { return s->name; },
    device_bytes,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const mg_cuda_api* mg_cuda_get_api(void) { return &kApi; }
