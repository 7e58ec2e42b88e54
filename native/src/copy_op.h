/* One step of prompt assembly: copy `length` tokens from a source buffer to the output.
   Shared by the CPU library and the CUDA library (plain C layout). */
#ifndef MCPGUARD_COPY_OP_H
#define MCPGUARD_COPY_OP_H

#include <stdint.h>

enum mg_copy_source { MG_SOURCE_PIECES = 0, MG_SOURCE_REQUESTS = 1, MG_SOURCE_ATTACK = 2, MG_SOURCE_BENIGN = 3 };

typedef struct mg_copy_op {
    uint64_t source_offset;
    uint64_t output_offset;
    uint64_t length;
    uint32_t source; /* enum mg_copy_source; MG_SOURCE_ATTACK + label for store segments */
    uint32_t reserved;
} mg_copy_op;

#endif
