// Prompt assembly as a list of copies, built on the host from the retrieved ids; the CPU runs it
// with memcpy, CUDA with a gather kernel, so both write the same tokens by construction.
#pragma once

#include <cstdint>
#include <vector>

#include "copy_op.h"
#include "mcpguard.h"

namespace mg {

struct AssemblyPlan {
    std::vector<mg_copy_op> ops;
    std::vector<uint64_t> query_offsets;  // n_queries + 1
    uint64_t n_tokens = 0;
};

// segment_offsets[label]: count + 1 offsets of the label's token segments.
AssemblyPlan plan_assembly(const uint32_t* ids, uint64_t n_queries, uint32_t k, const mg_token_list& pieces,
                           const mg_token_list& requests, const std::vector<uint64_t>* segment_offsets);

// Validates a token list's offsets against its tokens; `what` names it in errors.
void check_token_list(const mg_token_list& list, const char* what);

}  // namespace mg
