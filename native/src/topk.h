// The k best hits of a scan, kept in a small max-heap (the worst kept hit on top).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace mg {

struct Hit {
    float distance;
    uint32_t id;
};

// The one ranking rule of every backend: smaller distance first, then lower id.
inline bool ranks_before(const Hit& a, const Hit& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
}

class TopK {
  public:
    explicit TopK(size_t k) : k_(k) { heap_.reserve(k); }

    void push(Hit hit) {
        if (heap_.size() < k_) {
            heap_.push_back(hit);
            std::push_heap(heap_.begin(), heap_.end(), ranks_before);
        } else if (ranks_before(hit, heap_.front())) {
            std::pop_heap(heap_.begin(), heap_.end(), ranks_before);
            heap_.back() = hit;
            std::push_heap(heap_.begin(), heap_.end(), ranks_before);
        }
    }

    void merge(const TopK& other) {
        for (const Hit& hit : other.heap_) push(hit);
    }

    std::vector<Hit> sorted() const {
        std::vector<Hit> hits = heap_;
        std::sort(hits.begin(), hits.end(), ranks_before);
        return hits;
    }

  private:
    size_t k_;
    std::vector<Hit> heap_;
};

}  // namespace mg
