#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "command.h"
#include "util/log.h"

namespace docket::cli {

static std::vector<Command>& registry() {
    static std::vector<Command> r;
    return r;
}

bool register_command(Command cmd) {
    registry().push_back(std::move(cmd));
    return true;
}

const std::vector<Command>& commands() { return registry(); }

bool Args::has(const std::string& flag) const { return std::find(args_.begin(), args_.end(), flag) != args_.end(); }

int Args::find(const std::string& key, std::string* out) const {
    for (size_t i = 0; i < args_.size(); ++i) {
        if (args_[i] != key) continue;
        if (i + 1 == args_.size()) return -1;
        *out = args_[i + 1];
        return 1;
    }
    for (const auto& a : args_)  // also --key=value
        if (a.size() > key.size() && a.compare(0, key.size(), key) == 0 && a[key.size()] == '=') {
            *out = a.substr(key.size() + 1);
            return 1;
        }
    return 0;
}

std::string Args::get(const std::string& key, const std::string& def) const {
    std::string v;
    return find(key, &v) == 1 ? v : def;
}

Result<std::string> Args::get_string(const std::string& key, const std::string& def) const {
    std::string v;
    const int f = find(key, &v);
    if (f < 0) return make_error(ErrorCode::invalid_argument, "option {} needs a value", key);
    return f == 1 ? v : def;
}

Result<long long> Args::get_int(const std::string& key, long long def, long long lo, long long hi) const {
    std::string v;
    const int f = find(key, &v);
    if (f < 0) return make_error(ErrorCode::invalid_argument, "option {} needs a value", key);
    if (f == 0) return def;
    // strtoll skips leading spaces and takes a leading '+': accept only what reads as an integer as written.
    const bool digits =
        !v.empty() && (std::isdigit(static_cast<unsigned char>(v[0])) || (v[0] == '-' && v.size() > 1));
    errno = 0;
    char* end = nullptr;
    const long long x = digits ? std::strtoll(v.c_str(), &end, 10) : 0;
    if (!digits || !end || *end != 0)
        return make_error(ErrorCode::invalid_argument, "option {}: '{}' is not an integer", key, v);
    if (errno == ERANGE || x < lo || x > hi)
        return make_error(ErrorCode::invalid_argument, "option {}: {} is out of range [{}, {}]", key, v, lo,
                          hi);
    return x;
}

Result<double> Args::get_double(const std::string& key, double def, double lo, double hi,
                                bool lo_open) const {
    std::string v;
    const int f = find(key, &v);
    if (f < 0) return make_error(ErrorCode::invalid_argument, "option {} needs a value", key);
    if (f == 0) return def;
    const bool starts_ok = !v.empty() && !std::isspace(static_cast<unsigned char>(v[0]));
    errno = 0;
    char* end = nullptr;
    const double x = starts_ok ? std::strtod(v.c_str(), &end) : 0.0;
    if (!starts_ok || !end || *end != 0)
        return make_error(ErrorCode::invalid_argument, "option {}: '{}' is not a number", key, v);
    if (!std::isfinite(x) || errno == ERANGE)
        return make_error(ErrorCode::invalid_argument, "option {}: '{}' is not a finite number", key, v);
    if ((lo_open ? x <= lo : x < lo) || x > hi)
        return make_error(ErrorCode::invalid_argument, "option {}: {} is out of range {}{}, {}]", key, v,
                          lo_open ? "(" : "[", lo, hi);
    return x;
}

long long Args::get_int(const std::string& key, long long def) const {
    auto r = get_int(key, def, std::numeric_limits<long long>::min(), std::numeric_limits<long long>::max());
    return r ? *r : def;
}

double Args::get_double(const std::string& key, double def) const {
    auto r = get_double(key, def, -std::numeric_limits<double>::max(), std::numeric_limits<double>::max());
    return r ? *r : def;
}

std::string OptionReader::get_string(const std::string& key, const std::string& def) {
    return keep(args_.get_string(key, def), def);
}
long long OptionReader::get_int(const std::string& key, long long def, long long lo, long long hi) {
    return keep(args_.get_int(key, def, lo, hi), def);
}
double OptionReader::get_double(const std::string& key, double def, double lo, double hi, bool lo_open) {
    return keep(args_.get_double(key, def, lo, hi, lo_open), def);
}

std::vector<std::string> Args::positional(const std::vector<std::string>& with_values) const {
    std::vector<std::string> out;
    for (size_t i = 0; i < args_.size(); ++i) {
        const auto& a = args_[i];
        if (a.rfind("--", 0) == 0) {
            if (std::find(with_values.begin(), with_values.end(), a) != with_values.end()) ++i;
            continue;
        }
        out.push_back(a);
    }
    return out;
}

std::vector<std::string> Args::unknown(const std::vector<std::string>& known) const {
    std::vector<std::string> out;
    for (const auto& a : args_) {
        if (a.rfind("--", 0) != 0) continue;
        std::string name = a.substr(0, a.find('='));
        if (std::find(known.begin(), known.end(), name) == known.end()) out.push_back(name);
    }
    return out;
}

int fail(const std::string& cmd, const std::string& message, int code) {
    std::fprintf(stderr, "docket-cli %s: %s\n", cmd.c_str(), message.c_str());
    return code;
}

static int usage(FILE* out) {
    std::fprintf(out, "usage: docket-cli <command> [options]\n\ncommands:\n");
    auto cmds = commands();
    std::sort(cmds.begin(), cmds.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
    for (const auto& c : cmds) std::fprintf(out, "  %-14s %s\n", c.name.c_str(), c.summary.c_str());
    std::fprintf(out, "\n'docket-cli <command> --help' describes a command's options.\n");
    return out == stdout ? 0 : 2;
}

}  // namespace docket::cli

int main(int argc, char** argv) {
    docket::log::init();
    using namespace docket::cli;
    if (argc < 2) return usage(stderr);
    std::string name = argv[1];
    if (name == "help" || name == "--help" || name == "-h") return usage(stdout);
    std::vector<std::string> args(argv + 2, argv + argc);
    for (const auto& c : commands())
        if (c.name == name) return c.run(args);
    std::fprintf(stderr, "docket-cli: unknown command '%s'\n\n", name.c_str());
    return usage(stderr);
}
