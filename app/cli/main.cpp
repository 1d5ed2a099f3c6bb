#include <algorithm>
#include <cstdio>
#include <cstdlib>

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

std::string Args::get(const std::string& key, const std::string& def) const {
    for (size_t i = 0; i + 1 < args_.size(); ++i)
        if (args_[i] == key) return args_[i + 1];
    for (const auto& a : args_)  // also --key=value
        if (a.size() > key.size() && a.compare(0, key.size(), key) == 0 && a[key.size()] == '=')
            return a.substr(key.size() + 1);
    return def;
}

long long Args::get_int(const std::string& key, long long def) const {
    std::string v = get(key);
    if (v.empty()) return def;
    char* end = nullptr;
    long long x = std::strtoll(v.c_str(), &end, 10);
    return (end && *end == 0) ? x : def;
}

double Args::get_double(const std::string& key, double def) const {
    std::string v = get(key);
    if (v.empty()) return def;
    char* end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    return (end && *end == 0) ? x : def;
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
