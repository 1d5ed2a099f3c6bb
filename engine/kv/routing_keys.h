#pragma once
// KV routing (in the spirit of Quest / MSA): each page of a segment's snapshot is summarized by the per-channel
// mean of its pre-RoPE keys in a few layers; a question is routed by scoring its mean pre-RoPE queries against
// those summaries. Only channels that RoPE barely rotates over a context's distances take part (dims past n_rot,
// and rotation pairs whose wavelength exceeds kMinWavelength tokens): on the others a pre-RoPE dot product says
// nothing about the attention score at the distance where the page will sit.
#include <cstdint>
#include <vector>

#include "runtime/model.h"
#include "runtime/probe.h"
#include "runtime/session.h"
#include "util/status.h"

namespace docket::kv {

inline constexpr double kMinWavelength = 2048.0;

// The layers whose keys are summarized: a quarter, half and three quarters of the depth.
std::vector<int32_t> routing_layers(const ModelConfig& c);

// Summaries of exported rows (one segment), one per 64-token page, as a blob.
std::vector<uint8_t> encode_routing(const ModelConfig& c, const KvRows& rows);

// A question's mean pre-RoPE query per layer and query head, over the rows a probe captured.
struct QueryDigest {
    std::vector<float> q;  // [layers][n_head][head_dim], in routing_layers() order
    bool empty() const { return q.empty(); }
};
QueryDigest digest_queries(const ModelConfig& c, const ForwardProbe& probe);

// The segment's best page score (mean over layers and query heads of the scaled dot product on the channels
// above), or corrupt_data when the blob does not match the model's shape.
Result<double> score_routing(const ModelConfig& c, const std::vector<uint8_t>& blob, const QueryDigest& q);

}  // namespace docket::kv
