// mcpguard_native.node: NativeStore and getBackendInfo().
#include <napi.h>

#include "addon_data.h"
#include "mcpguard.h"
#include "native_store.h"

namespace {

Napi::Value GetBackendInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("version", MCPGUARD_VERSION);
    out.Set("simd", mg_cpu_simd());
    out.Set("cudaLibrary", mg_cuda_default_library());
    out.Set("cudaAvailable", mg_cuda_available(nullptr) != 0);
    out.Set("cudaUnavailableReason", mg_cuda_unavailable_reason(nullptr));
    return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
    auto* data = new AddonData();
    env.SetInstanceData(data);  // deleted when this environment (main or worker thread) exits
    exports.Set("NativeStore", NativeStore::Define(env, *data));
    exports.Set("getBackendInfo", Napi::Function::New(env, GetBackendInfo, "getBackendInfo"));
    return exports;
}

}  // namespace

NODE_API_MODULE(mcpguard_native, Init)
