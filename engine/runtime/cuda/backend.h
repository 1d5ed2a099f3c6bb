#pragma once
// Backend choice for `--backend cuda|cpu|auto`. Always compiled (also without the CUDA toolkit) so that every
// command can parse the flag and explain why CUDA is unavailable.
#include <string>
#include <string_view>

#include "util/status.h"

namespace docket {

enum class Backend { cpu, cuda };

struct BackendChoice {
    Backend backend = Backend::cpu;
    std::string
        detail;  // "NVIDIA H100 80GB HBM3 (sm_90, 79 GiB, driver 13.0)" or why CPU was chosen under auto
};

// "cuda": the GPU or an error saying why not (no driver, driver older than the runtime, no device, built
// without CUDA). "cpu": always the CPU. "auto": CUDA when usable, else CPU with the reason in `detail`.
Result<BackendChoice> select_backend(std::string_view name);

}  // namespace docket
