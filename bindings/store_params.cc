#include "store_params.h"

#include <cmath>

#include "typed_arrays.h"

namespace {

uint32_t ReadUint(Napi::Env env, Napi::Object options, const char* key, uint32_t fallback) {
    Napi::Value value = options.Get(key);
    if (value.IsUndefined()) return fallback;
    double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1;
    if (number < 0 || number > 4294967295.0 || std::floor(number) != number)
        throw Napi::TypeError::New(env, std::string("options.") + key + " must be a non-negative integer");
    return static_cast<uint32_t>(number);
}

int ReadChoice(Napi::Env env, Napi::Object options, const char* key, std::initializer_list<const char*> names,
               int fallback) {
    Napi::Value value = options.Get(key);
    if (value.IsUndefined()) return fallback;
    std::string text = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
    int index = 0;
    std::string allowed;
    for (const char* name : names) {
        if (text == name) return index;
        allowed += (index++ ? ", " : "") + std::string(name);
    }
    throw Napi::TypeError::New(env, std::string("options.") + key + " must be one of " + allowed);
}

}  // namespace

uint32_t Uint32Argument(const Napi::CallbackInfo& info, size_t index, const char* name) {
    Napi::Value value = info[index];
    double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1;
    if (number < 0 || number > 4294967295.0 || std::floor(number) != number)
        throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a non-negative integer");
    return static_cast<uint32_t>(number);
}

ParsedParams ParseStoreParams(Napi::Env env, Napi::Value value) {
    ParsedParams parsed{mg_store_default_params(), ""};
    if (value.IsUndefined()) return parsed;
    if (!value.IsObject()) throw Napi::TypeError::New(env, "options must be an object");
    Napi::Object options = value.As<Napi::Object>();
    mg_store_params& p = parsed.params;
    p.dimensions = ReadUint(env, options, "dimensions", p.dimensions);
    p.storage = static_cast<mg_storage>(ReadChoice(env, options, "storage", {"f32", "f16"}, p.storage));
    p.backend = static_cast<mg_backend>(ReadChoice(env, options, "backend", {"auto", "cpu", "cuda"}, p.backend));
    p.k_policy = static_cast<mg_k_policy>(ReadChoice(env, options, "kPolicy", {"error", "clamp"}, p.k_policy));
    p.n_threads = ReadUint(env, options, "threads", p.n_threads);
    p.parallel_threshold = ReadUint(env, options, "parallelThreshold", static_cast<uint32_t>(p.parallel_threshold));
    p.cuda_device = static_cast<int32_t>(ReadUint(env, options, "cudaDevice", 0));
    Napi::Value library = options.Get("cudaLibrary");
    if (library.IsString()) parsed.cuda_library = library.As<Napi::String>().Utf8Value();
    return parsed;
}
