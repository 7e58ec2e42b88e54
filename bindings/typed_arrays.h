// Copies typed arrays in and out across the boundary (inputs are copied on the main thread).
#pragma once

#include <napi.h>

#include <cstring>
#include <string>
#include <vector>

template <typename T>
struct TypedArrayKind;
template <>
struct TypedArrayKind<float> {
    static constexpr napi_typedarray_type type = napi_float32_array;
    static constexpr const char* name = "a Float32Array";
};
template <>
struct TypedArrayKind<uint32_t> {
    static constexpr napi_typedarray_type type = napi_uint32_array;
    static constexpr const char* name = "a Uint32Array";
};

// Copies argument `index` (named `name` in errors); throws a TypeError when it has the wrong type.
template <typename T>
std::vector<T> CopyArgument(const Napi::CallbackInfo& info, size_t index, const char* name) {
    Napi::Value value = info[index];
    if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != TypedArrayKind<T>::type)
        throw Napi::TypeError::New(info.Env(), std::string(name) + " must be " + TypedArrayKind<T>::name);
    Napi::TypedArrayOf<T> array = value.As<Napi::TypedArrayOf<T>>();
    return std::vector<T>(array.Data(), array.Data() + array.ElementLength());
}

uint32_t Uint32Argument(const Napi::CallbackInfo& info, size_t index, const char* name);

template <typename Out, typename In>
Napi::TypedArrayOf<Out> ToTypedArray(Napi::Env env, const In* data, size_t count) {
    Napi::TypedArrayOf<Out> array = Napi::TypedArrayOf<Out>::New(env, count);
    for (size_t i = 0; i < count; i++) array[i] = static_cast<Out>(data[i]);
    return array;
}

// An mg_token_list over flat tokens and offsets (offsets must hold at least one entry).
inline mg_token_list TokenList(const std::vector<uint32_t>& tokens, const std::vector<uint32_t>& offsets) {
    return {tokens.data(), tokens.size(), offsets.data(), offsets.empty() ? 0 : offsets.size() - 1};
}
