#include "format/ggml_type.h"

namespace docket {
namespace {
struct Entry {
    uint32_t id;
    GgmlTypeTraits traits;
};
constexpr Entry kTypes[] = {
    {0, {"F32", 1, 4, false}},       {1, {"F16", 1, 2, false}},        {2, {"Q4_0", 32, 18, true}},
    {3, {"Q4_1", 32, 20, true}},     {6, {"Q5_0", 32, 22, true}},      {7, {"Q5_1", 32, 24, true}},
    {8, {"Q8_0", 32, 34, true}},     {9, {"Q8_1", 32, 36, true}},      {10, {"Q2_K", 256, 84, true}},
    {11, {"Q3_K", 256, 110, true}},  {12, {"Q4_K", 256, 144, true}},   {13, {"Q5_K", 256, 176, true}},
    {14, {"Q6_K", 256, 210, true}},  {15, {"Q8_K", 256, 292, true}},   {24, {"I8", 1, 1, false}},
    {25, {"I16", 1, 2, false}},      {26, {"I32", 1, 4, false}},       {27, {"I64", 1, 8, false}},
    {28, {"F64", 1, 8, false}},      {30, {"BF16", 1, 2, false}},
};
}  // namespace

const GgmlTypeTraits* ggml_type_traits(uint32_t type) {
    for (const auto& e : kTypes)
        if (e.id == type) return &e.traits;
    return nullptr;
}

const char* ggml_type_name(GgmlType t) {
    const auto* tr = ggml_type_traits(t);
    return tr ? tr->name : "unknown";
}

size_t ggml_row_size(GgmlType t, int64_t n) {
    const auto* tr = ggml_type_traits(t);
    return static_cast<size_t>(n / tr->block_size) * tr->type_size;
}

}  // namespace docket
