#include "util/log.h"

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <memory>
#include <mutex>

namespace docket::log {
namespace {
std::once_flag g_once;
std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> g_ring;
}  // namespace

void init() {
    std::call_once(g_once, [] {
        auto err = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
        g_ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(2000);
        auto logger = std::make_shared<spdlog::logger>("docket", spdlog::sinks_init_list{err, g_ring});
        // %! is the calling function (SPDLOG_LOGGER_CALL passes it), so every line says where it came from.
        logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] %!: %v");
        spdlog::level::level_enum level = spdlog::level::info;
        if (const char* env = std::getenv("DOCKET_LOG")) level = spdlog::level::from_str(env);
        logger->set_level(level);
        spdlog::set_default_logger(logger);
    });
}

void set_level(spdlog::level::level_enum level) {
    init();
    spdlog::default_logger()->set_level(level);
}

std::vector<std::string> recent(size_t max_lines) {
    init();
    return g_ring->last_formatted(max_lines);
}

}  // namespace docket::log
