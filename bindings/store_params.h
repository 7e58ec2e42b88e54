// Reads the NativeStore constructor's options object into mg_store_params.
#pragma once

#include <napi.h>

#include <string>

#include "mcpguard.h"

struct ParsedParams {
    mg_store_params params;
    std::string cuda_library;  // owns the string params.cuda_library points to
};

ParsedParams ParseStoreParams(Napi::Env env, Napi::Value options);
