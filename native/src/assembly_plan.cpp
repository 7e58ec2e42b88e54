#include "assembly_plan.h"

#include <string>

#include "error.h"

namespace mg {
namespace {

class PlanBuilder {
  public:
    explicit PlanBuilder(AssemblyPlan& plan) : plan_(plan) {}

    void copy(uint32_t source, uint64_t begin, uint64_t end) {
        if (end == begin) return;
        plan_.ops.push_back({begin, plan_.n_tokens, end - begin, source, 0});
        plan_.n_tokens += end - begin;
    }

    void copy_item(uint32_t source, const uint32_t* offsets, uint64_t item) {
        copy(source, offsets[item], offsets[item + 1]);
    }

  private:
    AssemblyPlan& plan_;
};

void plan_label(PlanBuilder& builder, const uint32_t* ids, uint32_t k, uint32_t label, uint32_t first_header,
                const mg_token_list& pieces, const std::vector<uint64_t>& segments) {
    for (uint32_t rank = 0; rank < k; rank++) {
        uint32_t id = ids[rank];
        if (id == MG_NO_ID) continue;
        require(id + uint64_t{1} < segments.size(), MG_ERR_OUT_OF_RANGE,
                "example id " + std::to_string(id) + " is outside the " + (label == 0 ? "attack" : "benign") +
                    " store (" + std::to_string(segments.size() - 1) + " examples)");
        builder.copy_item(MG_SOURCE_PIECES, pieces.offsets, first_header + rank);
        builder.copy(MG_SOURCE_ATTACK + label, segments[id], segments[id + 1]);
    }
}

}  // namespace

void check_token_list(const mg_token_list& list, const char* what) {
    require(list.offsets != nullptr, MG_ERR_INVALID_ARGUMENT, std::string(what) + ": offsets are missing");
    require(list.tokens != nullptr || list.n_tokens == 0, MG_ERR_INVALID_ARGUMENT,
            std::string(what) + ": tokens are missing");
    for (uint64_t i = 0; i < list.count; i++)
        require(list.offsets[i] <= list.offsets[i + 1], MG_ERR_INVALID_ARGUMENT,
                std::string(what) + ": offsets must not decrease (at item " + std::to_string(i) + ")");
    require(list.offsets[list.count] <= list.n_tokens, MG_ERR_OUT_OF_RANGE,
            std::string(what) + ": offsets point past the end of the tokens (" +
                std::to_string(list.offsets[list.count]) + " > " + std::to_string(list.n_tokens) + ")");
}

AssemblyPlan plan_assembly(const uint32_t* ids, uint64_t n_queries, uint32_t k, const mg_token_list& pieces,
                           const mg_token_list& requests, const std::vector<uint64_t>* segment_offsets) {
    AssemblyPlan plan;
    PlanBuilder builder(plan);
    plan.query_offsets.push_back(0);
    for (uint64_t q = 0; q < n_queries; q++) {
        const uint32_t* query_ids = ids + q * MG_LABEL_COUNT * k;
        builder.copy_item(MG_SOURCE_PIECES, pieces.offsets, 0);
        plan_label(builder, query_ids, k, MG_LABEL_ATTACK, 1, pieces, segment_offsets[0]);
        builder.copy_item(MG_SOURCE_PIECES, pieces.offsets, k + 1);
        plan_label(builder, query_ids + k, k, MG_LABEL_BENIGN, k + 2, pieces, segment_offsets[1]);
        builder.copy_item(MG_SOURCE_PIECES, pieces.offsets, 2 * k + 2);
        builder.copy_item(MG_SOURCE_REQUESTS, requests.offsets, q);
        builder.copy_item(MG_SOURCE_PIECES, pieces.offsets, 2 * k + 3);
        plan.query_offsets.push_back(plan.n_tokens);
    }
    return plan;
}

}  // namespace mg
