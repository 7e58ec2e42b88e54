// The store's jobs: add examples, search, retrieve-and-assemble.
#pragma once

#include <vector>

#include "store_worker.h"

class AddWorker final : public StoreWorker {
  public:
    AddWorker(Napi::Env env, NativeStore& owner, uint32_t label, std::vector<float> vectors,
              std::vector<uint32_t> tokens, std::vector<uint32_t> offsets);

  private:
    void Run(mg_store* store) override;
    Napi::Value Result(Napi::Env env) override;

    uint32_t label_, dimensions_;
    std::vector<float> vectors_;
    std::vector<uint32_t> tokens_, offsets_;
};

// Without pieces: search only. With pieces and requests: retrieve and assemble.
class RetrieveWorker final : public StoreWorker {
  public:
    struct Inputs {
        std::vector<float> queries;
        uint32_t k = 0;
        bool assemble = false;
        std::vector<uint32_t> piece_tokens, piece_offsets, request_tokens, request_offsets;
    };
    RetrieveWorker(Napi::Env env, NativeStore& owner, Inputs inputs);
    ~RetrieveWorker() override;

  private:
    void Run(mg_store* store) override;
    Napi::Value Result(Napi::Env env) override;
    uint64_t QueryCount() const;

    Inputs inputs_;
    uint32_t dimensions_;
    mg_result result_{};
};
