#pragma once
// Device discovery for backend selection. Safe to call on machines without a GPU or driver.
#include <string>

namespace docket::cuda {

struct DeviceInfo {
    int count = 0;            // usable CUDA devices
    int driver_version = 0;   // e.g. 13000; 0 when no driver is loaded
    int runtime_version = 0;  // version of the cudart we were built against
    std::string name;         // device 0 name
    int sm_major = 0, sm_minor = 0;
    size_t total_mem = 0;
    std::string error;  // why no device is usable, empty when count > 0
};

// Never throws and never aborts: a missing driver or an old one comes back in `error`.
DeviceInfo query_devices();

}  // namespace docket::cuda
