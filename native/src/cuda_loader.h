// Finds the CUDA driver and libmcpguard_cuda.so at run time; nothing links against CUDA.
#pragma once

#include <string>

#include "cuda_api.h"

namespace mg {

struct CudaLoad {
    const mg_cuda_api* api = nullptr;  // null when unavailable
    std::string reason;                // why, when unavailable
    std::string library_path;
};

// Default library path: libmcpguard_cuda.so beside the library holding this code.
std::string default_cuda_library_path();

// Checks the driver (libcuda.so.1, cuInit, a device), then loads the library. Cached per path.
const CudaLoad& load_cuda(const std::string& library_path);

}  // namespace mg
