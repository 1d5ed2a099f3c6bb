#pragma once
// The CUDA runtime session (runtime/session.h) over CudaModel: live f16 KV pages that hold pre-RoPE keys,
// imported into and exported from as f32 rows; prefill and decode continue at the positions after the rows.
// Always compiled: without the CUDA toolkit open_cuda_backend() says so (ErrorCode::no_device).
#include <memory>
#include <string>

#include "runtime/session.h"

namespace docket {

// The model's weights uploaded once to GPU 0 and shared by every session the factory opens; `detail` names
// the device (select_backend's). unsupported for models the CUDA runtime does not run (CudaModel::create:
// non-llama architectures, q/k biases or norms, NeoX RoPE, other weight types); no_device without a usable
// GPU. threads: the host threads of the attention-mass probe (0: all cores).
Result<std::shared_ptr<SessionFactory>> open_cuda_backend(const Model& model, const std::string& detail,
                                                          int threads);

}  // namespace docket
