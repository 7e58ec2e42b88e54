#include <cstdlib>
#include <cstring>

#include "dot.h"

namespace mg {
namespace {

bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
    const char* force = std::getenv("MCPGUARD_FORCE_SCALAR");
    if (force != nullptr && std::strcmp(force, "1") == 0) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return false;
#endif
}

}  // namespace

const DotKernels& best_dot_kernels() {
#if defined(__x86_64__) || defined(__i386__)
    static const DotKernels kernels = cpu_has_avx2() ? avx2_dot_kernels() : scalar_dot_kernels();
#else
    static const DotKernels kernels = scalar_dot_kernels();
#endif
    return kernels;
}

}  // namespace mg
