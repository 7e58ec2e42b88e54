// C++ benchmark of retrieve-and-assemble (top-2 per label), no Node needed.
//   bench_store [--backend cpu|cuda] [--storage f32|f16] [--sizes 2000,100000,1000000] [--seconds 2]
// Sizes count examples over both labels (half each). Exits 77 for --backend cuda without a GPU.
#include <algorithm>
#include <chrono>
#include <sstream>

#include "../tests/test_support.h"

namespace {

struct Options {
    std::string backend = "cpu";
    std::string storage = "f32";
    std::vector<uint64_t> sizes{2000, 100000, 1000000};
    double seconds = 2.0;
    uint32_t batch = 32;
};

Options parse(int argc, char** argv) {
    Options options;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string key = argv[i], value = argv[i + 1];
        if (key == "--backend") options.backend = value;
        if (key == "--storage") options.storage = value;
        if (key == "--seconds") options.seconds = std::stod(value);
        if (key == "--batch") options.batch = uint32_t(std::stoul(value));
        if (key == "--sizes") {
            options.sizes.clear();
            std::stringstream list(value);
            for (std::string item; std::getline(list, item, ',');) options.sizes.push_back(std::stoull(item));
        }
    }
    return options;
}

// Cheap random unit vectors (xorshift, uniform then normalised): fast enough for 1M x 384.
std::vector<float> fast_unit_vectors(uint64_t count, uint32_t dims, uint64_t seed) {
    std::vector<float> vectors(count * dims);
    uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    for (uint64_t r = 0; r < count; r++) {
        float norm = 0;
        for (uint32_t i = 0; i < dims; i++) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            float v = float(int64_t(state >> 11) - (int64_t(1) << 52)) / float(int64_t(1) << 52);
            vectors[r * dims + i] = v, norm += v * v;
        }
        for (uint32_t i = 0; i < dims; i++) vectors[r * dims + i] /= std::sqrt(norm);
    }
    return vectors;
}

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point since) {
    return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

struct Inputs {
    std::vector<float> queries;
    mgtest::Segments pieces;  // 2k + 4 = 8 template pieces for k = 2
};

Inputs make_inputs(uint32_t n_queries, uint32_t dims) {
    return {fast_unit_vectors(n_queries, dims, 777), mgtest::make_segments(8, 900000)};
}

// Runs batches of `batch` queries for about `seconds`; returns per-call latencies in ms.
std::vector<double> time_calls(mg_store* store, const Inputs& inputs, uint32_t batch, uint32_t dims, double seconds) {
    std::vector<double> latencies;
    mgtest::Segments requests = mgtest::make_segments(batch, 500000);
    mg_token_list pieces = inputs.pieces.list(), request_list = requests.list();
    auto start = Clock::now();
    while (latencies.size() < 3 || (elapsed_ms(start) < seconds * 1000 && latencies.size() < 100000)) {
        const float* queries = inputs.queries.data() + (latencies.size() % 8) * batch * dims;
        mg_result result;
        auto call = Clock::now();
        if (mg_store_retrieve_and_assemble(store, queries, batch, dims, 2, &pieces, &request_list, &result) != MG_OK) {
            std::fprintf(stderr, "retrieve failed: %s\n", mg_last_error());
            std::exit(1);
        }
        latencies.push_back(elapsed_ms(call));
        mg_result_free(&result);
    }
    return latencies;
}

void report(const char* label, uint32_t batch, std::vector<double> latencies) {
    std::sort(latencies.begin(), latencies.end());
    double total = 0;
    for (double l : latencies) total += l;
    double p50 = latencies[latencies.size() / 2], p99 = latencies[latencies.size() * 99 / 100];
    std::printf("  %-10s batch %3u: %10.1f queries/s  p50 %8.3f ms  p99 %8.3f ms  (%zu calls)\n", label, batch,
                batch * latencies.size() * 1000.0 / total, p50, p99, latencies.size());
}

bool bench_size(const Options& options, uint64_t size) {
    const uint32_t dims = 384;
    mg_store* store = mgtest::make_store(options.backend == "cuda" ? MG_BACKEND_CUDA : MG_BACKEND_CPU,
                                         options.storage == "f16" ? MG_STORAGE_F16 : MG_STORAGE_F32, dims);
    if (store == nullptr) return false;
    auto build = Clock::now();
    for (uint32_t label = 0; label < MG_LABEL_COUNT; label++) {
        std::vector<float> vectors = fast_unit_vectors(size / 2, dims, label + 1);
        mgtest::Segments segments = mgtest::make_segments(size / 2, 1000000 * (label + 1));
        mg_token_list list = segments.list();
        if (mg_store_add(store, label, vectors.data(), size / 2, dims, &list) != MG_OK) {
            std::fprintf(stderr, "add failed: %s\n", mg_last_error());
            return false;
        }
    }
    mg_backend_info info;
    mg_store_backend_info(store, &info);
    double bytes = double(info.host_bytes + info.device_bytes);
    std::printf("%s %s store of %llu examples (%s%s%s, %u threads): built in %.0f ms, %.1f MiB, %.0f MiB per million\n",
                options.backend.c_str(), options.storage.c_str(), (unsigned long long)size, info.simd,
                info.device_name[0] ? ", " : "", info.device_name, info.n_threads, elapsed_ms(build),
                bytes / 1048576.0, bytes / 1048576.0 * 1e6 / double(size));
    Inputs inputs = make_inputs(8 * options.batch, dims);
    report("single", 1, time_calls(store, inputs, 1, dims, options.seconds));
    report("batched", options.batch, time_calls(store, inputs, options.batch, dims, options.seconds));
    mg_store_free(store);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    Options options = parse(argc, argv);
    if (options.backend == "cuda" && !mg_cuda_available(nullptr)) {
        std::printf("SKIP: no CUDA driver, device or libmcpguard_cuda.so\n");
        return 77;
    }
    for (uint64_t size : options.sizes)
        if (!bench_size(options, size)) return 1;
    return 0;
}
