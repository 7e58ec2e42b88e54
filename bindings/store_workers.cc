#include "store_workers.h"

#include <stdexcept>

#include "native_store.h"
#include "typed_arrays.h"

namespace {

// The dimension implied by a flat array of `count` vectors (0 when it does not divide).
uint32_t ImpliedDimension(size_t values, uint64_t count) {
    return count == 0 || values % count != 0 ? 0 : static_cast<uint32_t>(values / count);
}

}  // namespace

AddWorker::AddWorker(Napi::Env env, NativeStore& owner, uint32_t label, std::vector<float> vectors,
                     std::vector<uint32_t> tokens, std::vector<uint32_t> offsets)
    : StoreWorker(env, owner), label_(label), dimensions_(owner.Dimensions()), vectors_(std::move(vectors)),
      tokens_(std::move(tokens)), offsets_(std::move(offsets)) {}

void AddWorker::Run(mg_store* store) {
    if (offsets_.empty()) throw std::invalid_argument("offsets must hold one entry more than there are examples");
    uint64_t count = offsets_.size() - 1;
    uint32_t dimensions = count == 0 ? dimensions_ : ImpliedDimension(vectors_.size(), count);
    mg_token_list segments = TokenList(tokens_, offsets_);
    Check(mg_store_add(store, label_, vectors_.data(), count, dimensions, &segments));
}

Napi::Value AddWorker::Result(Napi::Env env) { return env.Undefined(); }

RetrieveWorker::RetrieveWorker(Napi::Env env, NativeStore& owner, Inputs inputs)
    : StoreWorker(env, owner), inputs_(std::move(inputs)), dimensions_(owner.Dimensions()) {}

RetrieveWorker::~RetrieveWorker() { mg_result_free(&result_); }

uint64_t RetrieveWorker::QueryCount() const {
    if (inputs_.assemble) return inputs_.request_offsets.empty() ? 0 : inputs_.request_offsets.size() - 1;
    return inputs_.queries.size() / dimensions_;
}

void RetrieveWorker::Run(mg_store* store) {
    uint64_t n_queries = QueryCount();
    uint32_t dimensions = inputs_.assemble ? ImpliedDimension(inputs_.queries.size(), n_queries) : dimensions_;
    if (!inputs_.assemble && inputs_.queries.size() % dimensions_ != 0)
        dimensions = static_cast<uint32_t>(inputs_.queries.size() % dimensions_);  // reported as a mismatch
    uint64_t slots = n_queries * MG_LABEL_COUNT * inputs_.k;
    if (!inputs_.assemble) {
        result_.n_queries = n_queries, result_.k = inputs_.k;
        result_.ids = static_cast<uint32_t*>(std::malloc(std::max<uint64_t>(1, slots) * sizeof(uint32_t)));
        result_.distances = static_cast<float*>(std::malloc(std::max<uint64_t>(1, slots) * sizeof(float)));
        if (result_.ids == nullptr || result_.distances == nullptr) throw std::bad_alloc();
        Check(mg_store_search(store, inputs_.queries.data(), n_queries, dimensions, inputs_.k, result_.ids, result_.distances));
        return;
    }
    mg_token_list pieces = TokenList(inputs_.piece_tokens, inputs_.piece_offsets);
    mg_token_list requests = TokenList(inputs_.request_tokens, inputs_.request_offsets);
    Check(mg_store_retrieve_and_assemble(store, inputs_.queries.data(), n_queries, dimensions, inputs_.k, &pieces,
                                         &requests, &result_));
}

Napi::Value RetrieveWorker::Result(Napi::Env env) {
    uint64_t slots = result_.n_queries * MG_LABEL_COUNT * result_.k;
    Napi::Object out = Napi::Object::New(env);
    out.Set("ids", ToTypedArray<uint32_t>(env, result_.ids, slots));
    out.Set("distances", ToTypedArray<float>(env, result_.distances, slots));
    if (!inputs_.assemble) return out;
    Napi::Uint32Array tokens = Napi::Uint32Array::New(env, result_.n_tokens);
    if (result_.n_tokens > 0) std::memcpy(tokens.Data(), result_.tokens, result_.n_tokens * sizeof(uint32_t));
    out.Set("tokens", tokens);
    out.Set("tokenOffsets", ToTypedArray<uint32_t>(env, result_.token_offsets, result_.n_queries + 1));
    return out;
}
