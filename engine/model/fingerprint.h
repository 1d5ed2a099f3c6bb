#pragma once
// Model fingerprint: the model part of a KV snapshot key. Two model files share a fingerprint only when their
// tensor data and every piece of metadata that changes the KV (architecture, dims, RoPE, tokenizer, tensor
// table) are identical; a renamed or re-tagged copy keeps its fingerprint.
#include <string>

#include "model/gguf.h"
#include "util/hash128.h"
#include "util/status.h"

namespace docket {

struct FingerprintOptions {
    int threads = 0;  // tensor data is hashed in 64 MiB chunks on this many threads; 0 = hardware concurrency
};

// XXH3-128 over (KV-relevant metadata, tensor table, per-chunk XXH3-128 of the tensor data section).
// Reads the whole tensor data (100 MB - 5 GB): callers cache the result (store/ keys it by path, device,
// inode, size, mtime and ctime of the file it opened).
Result<Hash128> model_fingerprint(const GgufFile& gguf, const FingerprintOptions& opt = {});
Result<Hash128> model_fingerprint_file(const std::string& path, const FingerprintOptions& opt = {});

// True for metadata keys that enter the fingerprint: general.architecture, "<arch>.*", "tokenizer.*".
bool fingerprint_covers_key(std::string_view key, std::string_view arch);

}  // namespace docket
