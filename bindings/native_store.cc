#include "native_store.h"

#include "store_params.h"
#include "store_workers.h"
#include "typed_arrays.h"

namespace {

const char* kDisposedMessage = "NativeStore was disposed; create a new store";

const char* BackendName(mg_backend backend) { return backend == MG_BACKEND_CUDA ? "cuda" : "cpu"; }

}  // namespace

Napi::Function NativeStore::Define(Napi::Env env, AddonData& data) {
    Napi::Function constructor = DefineClass(
        env, "NativeStore",
        {InstanceMethod<&NativeStore::Add>("add"), InstanceMethod<&NativeStore::Search>("search"),
         InstanceMethod<&NativeStore::RetrieveAndAssemble>("retrieveAndAssemble"),
         InstanceMethod<&NativeStore::Count>("count"), InstanceMethod<&NativeStore::BackendInfo>("backendInfo"),
         InstanceMethod<&NativeStore::Dispose>("dispose"), InstanceAccessor<&NativeStore::IsDisposed>("disposed")});
    data.native_store = Napi::Persistent(constructor);
    return constructor;
}

NativeStore::NativeStore(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeStore>(info) {
    ParsedParams parsed = ParseStoreParams(info.Env(), info[0]);
    parsed.params.cuda_library = parsed.cuda_library.empty() ? nullptr : parsed.cuda_library.c_str();
    mg_status status = mg_store_create(&parsed.params, &store_);
    if (status != MG_OK) {
        Napi::Error error = Napi::Error::New(info.Env(), mg_last_error());
        error.Set("code", Napi::String::New(info.Env(), mg_status_name(status)));
        throw error;
    }
    dimensions_ = parsed.params.dimensions;
}

NativeStore::~NativeStore() { mg_store_free(store_); }

void NativeStore::ThrowIfDisposed(Napi::Env env) const {
    if (disposed_) throw Napi::Error::New(env, kDisposedMessage);
}

void NativeStore::ReportHostMemory(Napi::Env env) {
    mg_backend_info info{};
    if (store_ == nullptr || mg_store_backend_info(store_, &info) != MG_OK) return;
    int64_t bytes = static_cast<int64_t>(info.host_bytes);
    Napi::MemoryManagement::AdjustExternalMemory(env, bytes - reported_bytes_);
    reported_bytes_ = bytes;
}

void NativeStore::FreeStore(Napi::Env env) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -reported_bytes_);
    reported_bytes_ = 0;
    mg_store_free(store_);
    store_ = nullptr;
}

void NativeStore::JobFinished(Napi::Env env) {
    pending_jobs_--;
    if (disposed_ && pending_jobs_ == 0) FreeStore(env);  // dispose() waited for this job
    else ReportHostMemory(env);
}

Napi::Value NativeStore::Add(const Napi::CallbackInfo& info) {
    if (disposed_) return RejectedPromise(info.Env(), kDisposedMessage, "MG_ERR_DISPOSED");
    uint32_t label = Uint32Argument(info, 0, "label");
    auto vectors = CopyArgument<float>(info, 1, "vectors");
    auto tokens = CopyArgument<uint32_t>(info, 2, "tokens");
    auto offsets = CopyArgument<uint32_t>(info, 3, "offsets");
    auto* worker = new AddWorker(info.Env(), *this, label, std::move(vectors), std::move(tokens), std::move(offsets));
    worker->Queue();
    return worker->Promise();
}

Napi::Value NativeStore::Search(const Napi::CallbackInfo& info) {
    if (disposed_) return RejectedPromise(info.Env(), kDisposedMessage, "MG_ERR_DISPOSED");
    RetrieveWorker::Inputs inputs;
    inputs.queries = CopyArgument<float>(info, 0, "queries");
    inputs.k = Uint32Argument(info, 1, "k");
    auto* worker = new RetrieveWorker(info.Env(), *this, std::move(inputs));
    worker->Queue();
    return worker->Promise();
}

Napi::Value NativeStore::RetrieveAndAssemble(const Napi::CallbackInfo& info) {
    if (disposed_) return RejectedPromise(info.Env(), kDisposedMessage, "MG_ERR_DISPOSED");
    RetrieveWorker::Inputs inputs;
    inputs.queries = CopyArgument<float>(info, 0, "queries");
    inputs.k = Uint32Argument(info, 1, "k");
    inputs.assemble = true;
    inputs.piece_tokens = CopyArgument<uint32_t>(info, 2, "pieceTokens");
    inputs.piece_offsets = CopyArgument<uint32_t>(info, 3, "pieceOffsets");
    inputs.request_tokens = CopyArgument<uint32_t>(info, 4, "requestTokens");
    inputs.request_offsets = CopyArgument<uint32_t>(info, 5, "requestOffsets");
    if (inputs.piece_offsets.empty() || inputs.request_offsets.empty())
        throw Napi::RangeError::New(info.Env(), "pieceOffsets and requestOffsets need at least one entry");
    auto* worker = new RetrieveWorker(info.Env(), *this, std::move(inputs));
    worker->Queue();
    return worker->Promise();
}

Napi::Value NativeStore::Count(const Napi::CallbackInfo& info) {
    ThrowIfDisposed(info.Env());
    return Napi::Number::New(info.Env(), static_cast<double>(mg_store_count(store_, Uint32Argument(info, 0, "label"))));
}

Napi::Value NativeStore::BackendInfo(const Napi::CallbackInfo& info) {
    ThrowIfDisposed(info.Env());
    mg_backend_info native{};
    mg_store_backend_info(store_, &native);
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("backend", BackendName(native.backend));
    out.Set("simd", native.simd);
    out.Set("deviceName", native.device_name);
    out.Set("threads", native.n_threads);
    out.Set("hostBytes", static_cast<double>(native.host_bytes));
    out.Set("deviceBytes", static_cast<double>(native.device_bytes));
    return out;
}

Napi::Value NativeStore::Dispose(const Napi::CallbackInfo& info) {
    if (!disposed_) {
        disposed_ = true;
        if (pending_jobs_ == 0) FreeStore(info.Env());
    }
    return info.Env().Undefined();
}

Napi::Value NativeStore::IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }
