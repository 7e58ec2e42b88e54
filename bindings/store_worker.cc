#include "store_worker.h"

#include <stdexcept>

#include "native_store.h"

namespace {

struct StatusError : std::runtime_error {
    StatusError(mg_status status, const std::string& message) : std::runtime_error(message), status(status) {}
    mg_status status;
};

}  // namespace

StoreWorker::StoreWorker(Napi::Env env, NativeStore& owner)
    : Napi::AsyncWorker(env, "mcpguard:store"), deferred_(Napi::Promise::Deferred::New(env)), owner_(owner),
      store_(owner.Handle()) {
    owner_.Ref();
    owner_.JobStarted();
}

void StoreWorker::Check(mg_status status) {
    if (status != MG_OK) throw StatusError(status, mg_last_error());
}

void StoreWorker::Execute() {
    try {
        Run(store_);
    } catch (const StatusError& error) {
        status_ = error.status;
        SetError(error.what());
    } catch (const std::exception& error) {
        status_ = MG_ERR_INTERNAL;
        SetError(error.what());
    } catch (...) {
        status_ = MG_ERR_INTERNAL;
        SetError("unknown native error");
    }
}

void StoreWorker::OnOK() {
    Napi::Value result = Result(Env());
    Finish();
    deferred_.Resolve(result);
}

void StoreWorker::OnError(const Napi::Error& error) {
    error.Set("code", Napi::String::New(Env(), mg_status_name(status_)));
    Finish();
    deferred_.Reject(error.Value());
}

void StoreWorker::Finish() {
    owner_.JobFinished(Env());
    owner_.Unref();
}

Napi::Promise RejectedPromise(Napi::Env env, const std::string& message, const char* code) {
    Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
    Napi::Error error = Napi::Error::New(env, message);
    error.Set("code", Napi::String::New(env, code));
    deferred.Reject(error.Value());
    return deferred.Promise();
}
