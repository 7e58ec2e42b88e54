#include "cuda_loader.h"

#include <dlfcn.h>

#include <map>
#include <mutex>

#include "mcpguard.h"

namespace mg {
namespace {

using CuInit = int (*)(unsigned int);
using CuDeviceGetCount = int (*)(int*);

// The driver, not the runtime: without it the CUDA library must not even be opened.
std::string check_driver() {
    void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (driver == nullptr) return "no CUDA driver (libcuda.so.1 not found)";
    auto init = reinterpret_cast<CuInit>(dlsym(driver, "cuInit"));
    auto count = reinterpret_cast<CuDeviceGetCount>(dlsym(driver, "cuDeviceGetCount"));
    if (init == nullptr || count == nullptr) return "libcuda.so.1 lacks cuInit/cuDeviceGetCount";
    if (int status = init(0); status != 0) return "cuInit failed with CUresult " + std::to_string(status);
    int devices = 0;
    if (count(&devices) != 0 || devices == 0) return "the CUDA driver reports no device";
    return "";  // the driver stays loaded: the CUDA runtime needs it anyway
}

CudaLoad open_library(const std::string& path) {
    CudaLoad load;
    load.library_path = path;
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        load.reason = std::string("cannot load ") + path + ": " + dlerror();
        return load;
    }
    auto get_api = reinterpret_cast<mg_cuda_get_api_fn>(dlsym(handle, "mg_cuda_get_api"));
    const mg_cuda_api* api = get_api != nullptr ? get_api() : nullptr;
    if (api == nullptr || api->abi_version != MG_CUDA_ABI_VERSION) {
        load.reason = path + " is not a matching libmcpguard_cuda (ABI version)";
        return load;
    }
    load.api = api;
    return load;
}

CudaLoad probe(const std::string& path) {
    std::string driver_problem = check_driver();
    if (!driver_problem.empty()) return {nullptr, driver_problem, path};
    return open_library(path);
}

}  // namespace

std::string default_cuda_library_path() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&mg_store_default_params), &info) == 0 || info.dli_fname == nullptr)
        return "libmcpguard_cuda.so";
    std::string self = info.dli_fname;
    size_t slash = self.rfind('/');
    return (slash == std::string::npos ? std::string() : self.substr(0, slash + 1)) + "libmcpguard_cuda.so";
}

const CudaLoad& load_cuda(const std::string& library_path) {
    static std::mutex mutex;
    static std::map<std::string, CudaLoad> loads;
    std::lock_guard<std::mutex> lock(mutex);
    auto found = loads.find(library_path);
    if (found == loads.end()) found = loads.emplace(library_path, probe(library_path)).first;
    return found->second;
}

}  // namespace mg
