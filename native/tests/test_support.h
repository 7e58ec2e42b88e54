// Small helpers shared by the C++ test and benchmark: random stores, token segments, checks.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "mcpguard.h"

namespace mgtest {

inline std::vector<float> random_unit_vectors(uint64_t count, uint32_t dims, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> vectors(count * dims);
    for (uint64_t r = 0; r < count; r++) {
        double norm = 0;
        for (uint32_t i = 0; i < dims; i++) norm += std::pow(vectors[r * dims + i] = normal(rng), 2);
        for (uint32_t i = 0; i < dims; i++) vectors[r * dims + i] = float(vectors[r * dims + i] / std::sqrt(norm));
    }
    return vectors;
}

// Example i of a label gets tokens {base + i, base + i, ...}, 1 + i % 5 of them.
struct Segments {
    std::vector<uint32_t> tokens;
    std::vector<uint32_t> offsets{0};

    mg_token_list list() const { return {tokens.data(), tokens.size(), offsets.data(), offsets.size() - 1}; }
};

inline Segments make_segments(uint64_t count, uint32_t base) {
    Segments segments;
    for (uint64_t i = 0; i < count; i++) {
        for (uint64_t t = 0; t < 1 + i % 5; t++) segments.tokens.push_back(uint32_t(base + i));
        segments.offsets.push_back(uint32_t(segments.tokens.size()));
    }
    return segments;
}

inline mg_store* make_store(mg_backend backend, mg_storage storage = MG_STORAGE_F32, uint32_t dims = 384,
                            mg_k_policy policy = MG_K_ERROR, uint64_t parallel_threshold = 32768) {
    mg_store_params params = mg_store_default_params();
    params.backend = backend, params.storage = storage, params.dimensions = dims, params.k_policy = policy;
    params.parallel_threshold = parallel_threshold;
    mg_store* store = nullptr;
    if (mg_store_create(&params, &store) != MG_OK) std::fprintf(stderr, "create failed: %s\n", mg_last_error());
    return store;
}

inline bool fill_store(mg_store* store, uint64_t per_label, uint32_t dims, uint32_t seed) {
    for (uint32_t label = 0; label < MG_LABEL_COUNT; label++) {
        std::vector<float> vectors = random_unit_vectors(per_label, dims, seed + label);
        Segments segments = make_segments(per_label, 1000000 * (label + 1));
        mg_token_list list = segments.list();
        if (mg_store_add(store, label, vectors.data(), per_label, dims, &list) != MG_OK) {
            std::fprintf(stderr, "add failed: %s\n", mg_last_error());
            return false;
        }
    }
    return true;
}

}  // namespace mgtest
