#include "util/log.h"

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>

namespace docket::log {
namespace {
std::once_flag g_once;

bool parse_level(std::string_view name, spdlog::level::level_enum* out) {
    static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
        {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},       {"info", spdlog::level::info},
        {"warn", spdlog::level::warn},   {"warning", spdlog::level::warn},      {"error", spdlog::level::err},
        {"err", spdlog::level::err},     {"critical", spdlog::level::critical}, {"off", spdlog::level::off}};
    for (const auto& [n, l] : kLevels)
        if (name == n) {
            *out = l;
            return true;
        }
    return false;
}
std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> g_ring;
std::shared_ptr<spdlog::sinks::stderr_color_sink_mt> g_err;
}  // namespace

void init() {
    std::call_once(g_once, [] {
        g_err = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
        g_ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(2000);
        auto logger = std::make_shared<spdlog::logger>("docket", spdlog::sinks_init_list{g_err, g_ring});
        // %! is the calling function (SPDLOG_LOGGER_CALL passes it), so every line says where it came from.
        logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] %!: %v");
        spdlog::level::level_enum level = spdlog::level::info;
        const char* env = std::getenv("DOCKET_LOG");
        // spdlog's from_str maps any unknown name to "off": a typo would silence every line, warnings
        // included.
        const bool known = env && parse_level(env, &level);
        logger->set_level(level);
        spdlog::set_default_logger(logger);
        if (env && !known)
            DK_LOG_WARN(
                "DOCKET_LOG='{}' is not a level (trace, debug, info, warn, error, critical, off); "
                "using info",
                env);
    });
}

void set_level(spdlog::level::level_enum level) {
    init();
    spdlog::default_logger()->set_level(level);
}

bool set_stderr_level(std::string_view name) {
    init();
    spdlog::level::level_enum level;
    if (!parse_level(name, &level)) return false;
    g_err->set_level(level);
    return true;
}

std::vector<std::string> recent(size_t max_lines) {
    init();
    return g_ring->last_formatted(max_lines);
}

}  // namespace docket::log
