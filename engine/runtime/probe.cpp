#include "runtime/probe.h"

#include <algorithm>

namespace docket {

bool ForwardProbe::wants_mass(int32_t layer) const {
    return std::find(mass_layers.begin(), mass_layers.end(), layer) != mass_layers.end();
}

int ForwardProbe::query_slot(int32_t layer) const {
    auto it = std::find(query_layers.begin(), query_layers.end(), layer);
    return it == query_layers.end() ? -1 : static_cast<int>(it - query_layers.begin());
}

void ForwardProbe::capture(int32_t layer, const float* q, int32_t n, int32_t n_q_dim) {
    const int slot = query_slot(layer);
    if (slot < 0) return;
    queries.resize(query_layers.size());
    queries[slot].insert(queries[slot].end(), q, q + static_cast<size_t>(n) * n_q_dim);
}

}  // namespace docket
