// State per Node environment (main thread and each worker thread get their own).
#pragma once

#include <napi.h>

struct AddonData {
    Napi::FunctionReference native_store;
};
