#include "store/fault_injection.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "util/log.h"

namespace docket::store {
namespace {

std::mutex g_mu;
std::string g_name;       // guarded by g_mu
int64_t g_remaining = 0;  // guarded by g_mu
std::atomic<bool> g_armed{false};
std::once_flag g_env_once;

void arm_from_env() {
    const char* env = std::getenv("DOCKET_CRASH_POINT");
    if (!env || !*env) return;
    // Two variables, so that a stray DOCKET_CRASH_POINT in a user's environment cannot kill the app.
    const char* enable = std::getenv("DOCKET_FAULT_INJECTION");
    if (!enable || std::strcmp(enable, "1") != 0) {
        DK_LOG_WARN("DOCKET_CRASH_POINT={} ignored: crash points arm only with DOCKET_FAULT_INJECTION=1",
                    env);
        return;
    }
    DK_LOG_WARN("fault injection: crash point {} armed from the environment", env);
    std::string spec = env;
    int64_t nth = 1;
    if (auto colon = spec.find(':'); colon != std::string::npos) {
        nth = std::max<int64_t>(1, std::atoll(spec.c_str() + colon + 1));
        spec.resize(colon);
    }
    arm_crash_point(spec, nth);
}

}  // namespace

void arm_crash_point(const std::string& name, int64_t nth) {
    std::lock_guard lock(g_mu);
    g_name = name;
    g_remaining = nth;
    g_armed.store(true);
}

void disarm_crash_points() {
    std::lock_guard lock(g_mu);
    g_name.clear();
    g_armed.store(false);
}

void crash_point(const char* name) {
    std::call_once(g_env_once, arm_from_env);
    if (!g_armed.load(std::memory_order_relaxed)) return;
    std::lock_guard lock(g_mu);
    if (g_name != name || --g_remaining > 0) return;
    // Deliberate: a simulated power cut for crash tests (see header). Write the note with write(2),
    // unbuffered.
    const char msg[] = "docket: crash point reached, killing process\n";
    ssize_t ignored = ::write(2, msg, sizeof(msg) - 1);
    (void)ignored;
    ::kill(::getpid(), SIGKILL);
}

}  // namespace docket::store
