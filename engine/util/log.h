#pragma once
// One logging macro family over spdlog: format-checked, prefixed with the calling function.
// A bounded in-memory ring keeps the latest lines for the UI's log view.
#include <spdlog/spdlog.h>

#include <string>
#include <string_view>
#include <vector>

namespace docket::log {

// Installs the stderr sink (and the in-memory ring); idempotent. Level from DOCKET_LOG (trace..off), default info.
void init();
void set_level(spdlog::level::level_enum level);
// The level of the stderr sink alone (the in-memory ring keeps every line the logger lets through); false for
// an unknown name.
bool set_stderr_level(std::string_view name);
// The most recent `max_lines` formatted lines, oldest first.
std::vector<std::string> recent(size_t max_lines = 500);

}  // namespace docket::log

#define DK_LOG_TRACE(...) SPDLOG_LOGGER_CALL(spdlog::default_logger_raw(), spdlog::level::trace, __VA_ARGS__)
#define DK_LOG_DEBUG(...) SPDLOG_LOGGER_CALL(spdlog::default_logger_raw(), spdlog::level::debug, __VA_ARGS__)
#define DK_LOG_INFO(...) SPDLOG_LOGGER_CALL(spdlog::default_logger_raw(), spdlog::level::info, __VA_ARGS__)
#define DK_LOG_WARN(...) SPDLOG_LOGGER_CALL(spdlog::default_logger_raw(), spdlog::level::warn, __VA_ARGS__)
#define DK_LOG_ERROR(...) SPDLOG_LOGGER_CALL(spdlog::default_logger_raw(), spdlog::level::err, __VA_ARGS__)
