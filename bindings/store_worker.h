// One AsyncWorker per heavy store operation: inputs copied on the main thread, the native call in
// Execute() (no Node-API there), the result built in OnOK; the store object is Ref()'ed meanwhile.
#pragma once

#include <napi.h>

#include <string>

#include "mcpguard.h"

class NativeStore;

class StoreWorker : public Napi::AsyncWorker {
  public:
    StoreWorker(Napi::Env env, NativeStore& owner);
    Napi::Promise Promise() { return deferred_.Promise(); }

  protected:
    // Runs on a thread-pool thread; throws on failure.
    virtual void Run(mg_store* store) = 0;
    // Runs on the main thread after success.
    virtual Napi::Value Result(Napi::Env env) = 0;
    // Throws with the library's message when a call failed.
    void Check(mg_status status);

  private:
    void Execute() final;
    void OnOK() final;
    void OnError(const Napi::Error& error) final;
    void Finish();

    Napi::Promise::Deferred deferred_;
    NativeStore& owner_;
    mg_store* store_;
    mg_status status_ = MG_OK;
};

// A rejected promise, for calls refused before any work starts.
Napi::Promise RejectedPromise(Napi::Env env, const std::string& message, const char* code);
