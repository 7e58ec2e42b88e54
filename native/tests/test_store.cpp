// C++ tests of the native core, no Node needed: test_store [--backend cpu|cuda]
// The cuda run compares the CUDA backend with the CPU backend and exits 77 (skipped) without a GPU.
#include <algorithm>
#include <functional>
#include <numeric>

#include "../src/dot.h"
#include "../src/half.h"
#include "test_support.h"

using namespace mgtest;

namespace {

int failures = 0;

void expect(bool condition, const std::string& what) {
    if (!condition) {
        failures++;
        std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    }
}

void expect_status(mg_status got, mg_status wanted, const std::string& what) {
    expect(got == wanted, what + ": got " + mg_status_name(got) + " (" + mg_last_error() + "), wanted " +
                              mg_status_name(wanted));
}

struct Template {
    std::vector<uint32_t> tokens;
    std::vector<uint32_t> offsets{0};
    mg_token_list list() const { return {tokens.data(), tokens.size(), offsets.data(), offsets.size() - 1}; }
};

// Piece p is {900000 + p} repeated p % 3 times (some pieces are empty).
Template make_pieces(uint32_t k) {
    Template pieces;
    for (uint32_t p = 0; p < 2 * k + 4; p++) {
        for (uint32_t t = 0; t < p % 3; t++) pieces.tokens.push_back(900000 + p);
        pieces.offsets.push_back(uint32_t(pieces.tokens.size()));
    }
    return pieces;
}

Template make_requests(uint64_t n_queries) {
    Template requests;
    for (uint64_t q = 0; q < n_queries; q++) {
        for (uint64_t t = 0; t < 2 + q; t++) requests.tokens.push_back(uint32_t(500000 + q));
        requests.offsets.push_back(uint32_t(requests.tokens.size()));
    }
    return requests;
}

// The reference: every distance with the scalar kernel, sorted by (distance, id).
std::vector<uint32_t> brute_force(const std::vector<float>& rows, const float* query, uint32_t dims, uint32_t k) {
    uint64_t count = rows.size() / dims;
    std::vector<float> q(query, query + dims), distances(count);
    for (uint64_t r = 0; r < count; r++)
        mg::scalar_dot_kernels().f32(q.data(), rows.data() + r * dims, 1, dims, &distances[r]);
    for (float& d : distances) d = 1.0f - d;
    std::vector<uint32_t> order(count);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return distances[a] < distances[b]; });
    order.resize(k);
    return order;
}

void test_kernels_agree() {
    const uint32_t dims = 384;
    auto rows = random_unit_vectors(37, dims, 1);
    auto query = random_unit_vectors(1, dims, 2);
    std::vector<uint16_t> half(rows.size());
    for (size_t i = 0; i < rows.size(); i++) half[i] = mg::f32_to_f16(rows[i]);
    float a[37], b[37], c[37], d[37];
    mg::scalar_dot_kernels().f32(query.data(), rows.data(), 37, dims, a);
    mg::best_dot_kernels().f32(query.data(), rows.data(), 37, dims, b);
    mg::scalar_dot_kernels().f16(query.data(), half.data(), 37, dims, c);
    mg::best_dot_kernels().f16(query.data(), half.data(), 37, dims, d);
    expect(std::memcmp(a, b, sizeof a) == 0, "SIMD f32 dots are bit-identical to the scalar ones");
    expect(std::memcmp(c, d, sizeof c) == 0, "SIMD f16 dots are bit-identical to the scalar ones");
}

void test_half_conversion() {
    for (uint32_t bits = 0; bits < 0x10000; bits++) {
        if ((bits & 0x7c00) == 0x7c00 && (bits & 0x3ff) != 0) continue;  // NaN payloads
        float value = mg::f16_to_f32(uint16_t(bits));
        if (mg::f32_to_f16(value) != bits) return expect(false, "f16 round trip of " + std::to_string(bits));
    }
    expect(mg::f32_to_f16(1.0f / 3.0f) == 0x3555, "1/3 rounds to nearest even in f16");
    expect(mg::f32_to_f16(1e-8f) == 0, "tiny values flush to zero");
}

void test_exact_top_k(mg_backend backend, mg_storage storage, uint64_t parallel_threshold) {
    const uint32_t dims = 384, k = 4;
    const uint64_t per_label = 3000, n_queries = 3;
    mg_store* store = make_store(backend, storage, dims, MG_K_ERROR, parallel_threshold);
    expect(store != nullptr && fill_store(store, per_label, dims, 10), "store filled");
    if (store == nullptr) return;
    auto queries = random_unit_vectors(n_queries, dims, 99);
    std::vector<uint32_t> ids(n_queries * 2 * k);
    std::vector<float> distances(ids.size());
    expect_status(mg_store_search(store, queries.data(), n_queries, dims, k, ids.data(), distances.data()), MG_OK, "search");
    for (uint32_t label = 0; label < 2; label++) {
        auto rows = random_unit_vectors(per_label, dims, 10 + label);
        if (storage == MG_STORAGE_F16)
            for (float& v : rows) v = mg::f16_to_f32(mg::f32_to_f16(v));
        for (uint64_t q = 0; q < n_queries; q++) {
            auto wanted = brute_force(rows, queries.data() + q * dims, dims, k);
            expect(std::equal(wanted.begin(), wanted.end(), ids.begin() + (q * 2 + label) * k),
                   "top-k equals brute force (label " + std::to_string(label) + ", query " + std::to_string(q) + ")");
        }
    }
    mg_store_free(store);
}

void test_ties_prefer_lower_index() {
    const uint32_t dims = 8;
    std::vector<float> rows = {0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    Segments segments = make_segments(3, 0);
    mg_token_list list = segments.list();
    mg_store* store = make_store(MG_BACKEND_CPU, MG_STORAGE_F32, dims);
    mg_store_add(store, 0, rows.data(), 3, dims, &list);
    mg_store_add(store, 1, rows.data(), 3, dims, &list);
    float query[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    uint32_t ids[4];
    float distances[4];
    expect_status(mg_store_search(store, query, 1, dims, 2, ids, distances), MG_OK, "tie search");
    expect(ids[0] == 1 && ids[1] == 2 && distances[0] == 0.0f, "ties go to the lower index");
    mg_store_free(store);
}

void test_assembly(mg_backend backend) {
    const uint32_t dims = 16, k = 2;
    mg_store* store = make_store(backend, MG_STORAGE_F32, dims);
    fill_store(store, 10, dims, 5);
    auto queries = random_unit_vectors(2, dims, 6);
    Template pieces = make_pieces(k), requests = make_requests(2);
    mg_token_list piece_list = pieces.list(), request_list = requests.list();
    mg_result result;
    expect_status(mg_store_retrieve_and_assemble(store, queries.data(), 2, dims, k, &piece_list, &request_list, &result),
                  MG_OK, "retrieve and assemble");
    for (uint64_t q = 0; q < 2; q++) {
        std::vector<uint32_t> wanted;
        auto piece = [&](uint32_t p) {
            wanted.insert(wanted.end(), pieces.tokens.begin() + pieces.offsets[p], pieces.tokens.begin() + pieces.offsets[p + 1]);
        };
        auto segment = [&](uint32_t label, uint32_t id) { wanted.insert(wanted.end(), 1 + id % 5, 1000000 * (label + 1) + id); };
        piece(0);
        for (uint32_t r = 0; r < k; r++) piece(1 + r), segment(0, result.ids[q * 2 * k + r]);
        piece(k + 1);
        for (uint32_t r = 0; r < k; r++) piece(k + 2 + r), segment(1, result.ids[q * 2 * k + k + r]);
        piece(2 * k + 2);
        wanted.insert(wanted.end(), 2 + q, uint32_t(500000 + q));
        piece(2 * k + 3);
        std::vector<uint32_t> got(result.tokens + result.token_offsets[q], result.tokens + result.token_offsets[q + 1]);
        expect(got == wanted, "assembled tokens equal the concatenation (query " + std::to_string(q) + ")");
    }
    mg_result_free(&result);
    mg_store_free(store);
}

void test_bad_inputs() {
    const uint32_t dims = 8;
    float query[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    uint32_t ids[64];
    float distances[64];
    mg_store* store = make_store(MG_BACKEND_CPU, MG_STORAGE_F32, dims);
    expect_status(mg_store_search(store, query, 1, dims, 1, ids, distances), MG_ERR_EMPTY_STORE, "empty store");
    fill_store(store, 3, dims, 1);
    expect_status(mg_store_search(store, query, 1, 7, 1, ids, distances), MG_ERR_DIMENSION_MISMATCH, "wrong dimension");
    expect_status(mg_store_search(store, query, 1, dims, 4, ids, distances), MG_ERR_K_TOO_LARGE, "k larger than store");
    expect_status(mg_store_search(store, query, 1, dims, 0, ids, distances), MG_ERR_INVALID_ARGUMENT, "k = 0");
    expect_status(mg_store_search(store, nullptr, 1, dims, 1, ids, distances), MG_ERR_INVALID_ARGUMENT, "null queries");
    float nan_query[8] = {NAN, 0, 0, 0, 0, 0, 0, 0};
    expect_status(mg_store_search(store, nan_query, 1, dims, 1, ids, distances), MG_ERR_NON_FINITE, "NaN query");
    float unnormalised[8] = {2, 0, 0, 0, 0, 0, 0, 0};
    Segments one = make_segments(1, 0);
    mg_token_list list = one.list();
    expect_status(mg_store_add(store, 0, unnormalised, 1, dims, &list), MG_ERR_INVALID_ARGUMENT, "unnormalised vector");
    expect_status(mg_store_add(store, 2, query, 1, dims, &list), MG_ERR_OUT_OF_RANGE, "bad label");
    expect(mg_store_count(store, 0) == 3, "failed adds add nothing");
    uint32_t bad_ids[4] = {0, 99, 0, 1};
    Template pieces = make_pieces(2), requests = make_requests(1);
    mg_token_list piece_list = pieces.list(), request_list = requests.list();
    mg_result result;
    expect_status(mg_store_assemble(store, bad_ids, 1, 2, &piece_list, &request_list, &result), MG_ERR_OUT_OF_RANGE, "bad id");
    expect_status(mg_store_assemble(store, bad_ids, 1, 1, &piece_list, &request_list, &result), MG_ERR_INVALID_ARGUMENT,
                  "wrong piece count");
    mg_store_free(store);
}

void test_clamp_policy() {
    const uint32_t dims = 8;
    mg_store* store = make_store(MG_BACKEND_CPU, MG_STORAGE_F32, dims, MG_K_CLAMP);
    fill_store(store, 2, dims, 3);
    float query[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    uint32_t ids[8];
    float distances[8];
    expect_status(mg_store_search(store, query, 1, dims, 4, ids, distances), MG_OK, "clamped search");
    expect(ids[2] == MG_NO_ID && ids[3] == MG_NO_ID && std::isinf(distances[3]), "clamped slots are empty");
    Template pieces = make_pieces(4), requests = make_requests(1);
    mg_token_list piece_list = pieces.list(), request_list = requests.list();
    mg_result result;
    expect_status(mg_store_assemble(store, ids, 1, 4, &piece_list, &request_list, &result), MG_OK, "clamped assembly");
    mg_result_free(&result);
    mg_store_free(store);
}

// The CUDA backend against the CPU backend: same ids, same distance bits, same tokens.
void test_cuda_matches_cpu(mg_storage storage) {
    const uint32_t dims = 384, k = 3;
    const uint64_t per_label = 20000, n_queries = 5;
    mg_store* cpu = make_store(MG_BACKEND_CPU, storage, dims);
    mg_store* cuda = make_store(MG_BACKEND_CUDA, storage, dims);
    expect(cuda != nullptr, "CUDA store created");
    if (cuda == nullptr) return;
    fill_store(cpu, per_label, dims, 42), fill_store(cuda, per_label, dims, 42);
    auto queries = random_unit_vectors(n_queries, dims, 7);
    Template pieces = make_pieces(k), requests = make_requests(n_queries);
    mg_token_list piece_list = pieces.list(), request_list = requests.list();
    mg_result a, b;
    mg_store_retrieve_and_assemble(cpu, queries.data(), n_queries, dims, k, &piece_list, &request_list, &a);
    expect_status(mg_store_retrieve_and_assemble(cuda, queries.data(), n_queries, dims, k, &piece_list, &request_list, &b),
                  MG_OK, "CUDA retrieve and assemble");
    uint64_t slots = n_queries * 2 * k;
    expect(std::memcmp(a.ids, b.ids, slots * 4) == 0, "CUDA ids equal CPU ids");
    expect(std::memcmp(a.distances, b.distances, slots * 4) == 0, "CUDA distances are bit-identical to CPU");
    expect(a.n_tokens == b.n_tokens && std::memcmp(a.tokens, b.tokens, a.n_tokens * 4) == 0, "CUDA tokens equal CPU tokens");
    mg_backend_info info;
    mg_store_backend_info(cuda, &info);
    expect(info.backend == MG_BACKEND_CUDA && info.device_bytes > 0, "the CUDA store lives on the device");
    mg_result_free(&a), mg_result_free(&b);
    mg_store_free(cpu), mg_store_free(cuda);
}

int run_cpu() {
    test_half_conversion();
    test_kernels_agree();
    test_exact_top_k(MG_BACKEND_CPU, MG_STORAGE_F32, 32768);
    test_exact_top_k(MG_BACKEND_CPU, MG_STORAGE_F32, 1);  // threaded
    test_exact_top_k(MG_BACKEND_CPU, MG_STORAGE_F16, 1);
    test_ties_prefer_lower_index();
    test_assembly(MG_BACKEND_CPU);
    test_bad_inputs();
    test_clamp_policy();
    return 0;
}

int run_cuda() {
    if (!mg_cuda_available(nullptr)) {
        std::printf("SKIP: no CUDA driver, device or libmcpguard_cuda.so\n");
        return 77;
    }
    test_cuda_matches_cpu(MG_STORAGE_F32);
    test_cuda_matches_cpu(MG_STORAGE_F16);
    test_exact_top_k(MG_BACKEND_CUDA, MG_STORAGE_F32, 0);
    test_assembly(MG_BACKEND_CUDA);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string backend = argc > 2 && std::string(argv[1]) == "--backend" ? argv[2] : "cpu";
    int skipped = backend == "cuda" ? run_cuda() : run_cpu();
    if (skipped != 0) return skipped;
    std::printf("%s: %s\n", backend.c_str(), failures == 0 ? "all tests passed" : "FAILED");
    return failures == 0 ? 0 : 1;
}
