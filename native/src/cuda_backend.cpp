// The CUDA backend seen from the CPU library: forwards to libmcpguard_cuda.so through its C ABI.
#include "backend.h"
#include "cuda_loader.h"
#include "error.h"

namespace mg {
namespace {

class CudaBackend final : public Backend {
  public:
    CudaBackend(const mg_cuda_api* api, const BackendConfig& config) : api_(api) {
        store_ = api_->create(config.cuda_device, config.stride, config.storage == MG_STORAGE_F16, err_, sizeof err_);
        if (store_ == nullptr) fail(MG_ERR_BACKEND, std::string("CUDA store creation failed: ") + err_);
    }
    ~CudaBackend() override { api_->destroy(store_); }

    void reserve(uint32_t label, uint64_t n_rows, uint64_t n_tokens) override {
        check(api_->reserve(store_, label, n_rows, n_tokens, err_, sizeof err_));
    }
    void append_rows(uint32_t label, const Rows& rows) override {
        const void* data = rows.f16 != nullptr ? static_cast<const void*>(rows.f16) : rows.f32;
        check(api_->append_rows(store_, label, data, rows.count, err_, sizeof err_));
    }
    void append_tokens(uint32_t label, const uint32_t* tokens, uint64_t n_tokens) override {
        check(api_->append_tokens(store_, label, tokens, n_tokens, err_, sizeof err_));
    }
    void search(const SearchJob& job) override {
        check(api_->search(store_, job.queries, job.n_queries, job.k, job.k_per_label, job.ids, job.distances, err_,
                           sizeof err_));
    }
    void gather(const AssemblyPlan& plan, const mg_token_list& pieces, const mg_token_list& requests,
                uint32_t* out) override {
        check(api_->gather(store_, plan.ops.data(), plan.ops.size(), pieces.tokens, pieces.n_tokens, requests.tokens,
                           requests.n_tokens, out, plan.n_tokens, err_, sizeof err_));
    }
    void describe(mg_backend_info& info) const override {
        info.backend = MG_BACKEND_CUDA;
        info.device_name = api_->device_name(store_);
        info.host_bytes = 0;
        info.device_bytes = api_->device_bytes(store_);
    }

  private:
    void check(int status) {
        if (status != 0) fail(MG_ERR_BACKEND, std::string("CUDA: ") + err_);
    }

    const mg_cuda_api* api_;
    mg_cuda_store* store_ = nullptr;
    // Calls are serialised by the CUDA library's own lock; the message is read right after the call.
    thread_local static char err_[512];
};

thread_local char CudaBackend::err_[512];

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(const BackendConfig& config) {
    std::string path = config.cuda_library.empty() ? default_cuda_library_path() : config.cuda_library;
    const CudaLoad& load = load_cuda(path);
    if (load.api == nullptr) fail(MG_ERR_BACKEND, "CUDA backend unavailable: " + load.reason);
    return std::make_unique<CudaBackend>(load.api, config);
}

}  // namespace mg
