// NativeStore: the JS class over an mg_store handle.
#pragma once

#include <napi.h>

#include "addon_data.h"
#include "mcpguard.h"

class NativeStore : public Napi::ObjectWrap<NativeStore> {
  public:
    static Napi::Function Define(Napi::Env env, AddonData& data);
    explicit NativeStore(const Napi::CallbackInfo& info);
    ~NativeStore() override;

    mg_store* Handle() const { return store_; }
    uint32_t Dimensions() const { return dimensions_; }
    void JobStarted() { pending_jobs_++; }
    void JobFinished(Napi::Env env);

  private:
    Napi::Value Add(const Napi::CallbackInfo& info);
    Napi::Value Search(const Napi::CallbackInfo& info);
    Napi::Value RetrieveAndAssemble(const Napi::CallbackInfo& info);
    Napi::Value Count(const Napi::CallbackInfo& info);
    Napi::Value BackendInfo(const Napi::CallbackInfo& info);
    Napi::Value Dispose(const Napi::CallbackInfo& info);
    Napi::Value IsDisposed(const Napi::CallbackInfo& info);

    void ThrowIfDisposed(Napi::Env env) const;
    void ReportHostMemory(Napi::Env env);
    void FreeStore(Napi::Env env);

    mg_store* store_ = nullptr;
    uint32_t dimensions_ = 0;
    bool disposed_ = false;
    int pending_jobs_ = 0;
    int64_t reported_bytes_ = 0;
};
