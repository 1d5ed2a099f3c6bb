#pragma once
// Subcommand registry for docket-cli. A file registers a command with a static DOCKET_CLI_COMMAND at namespace
// scope; main() dispatches on argv[1]. Commands return the process exit code and print their own errors.
#include <functional>
#include <string>
#include <vector>

#include "util/status.h"

namespace docket::cli {

using CommandFn = std::function<int(const std::vector<std::string>& args)>;

struct Command {
    std::string name;
    std::string summary;  // one line for `docket-cli help`
    CommandFn run;
};

bool register_command(Command cmd);
const std::vector<Command>& commands();

// Small argument helpers shared by commands: "--key value", "--key=value" and "--flag" forms.
class Args {
public:
    explicit Args(const std::vector<std::string>& args) : args_(args) {}
    bool has(const std::string& flag) const;
    std::string get(const std::string& key, const std::string& def = "") const;

    // Checked getters: the default when the option is absent; an error naming the option and the value when
    // it is given without a value, does not parse completely, or is out of range: "option -n: 'abc' is not an
    // integer", "option --top-p: 0 is out of range (0, 1]".
    Result<std::string> get_string(const std::string& key, const std::string& def = "") const;
    Result<long long> get_int(const std::string& key, long long def, long long lo, long long hi) const;
    // Rejects nan and inf; `lo_open` makes the lower bound exclusive.
    Result<double> get_double(const std::string& key, double def, double lo, double hi,
                              bool lo_open = false) const;

    // Unchecked forms: a bad value silently becomes the default. Kept only for callers not yet switched.
    [[deprecated("use the checked get_int(key, def, lo, hi)")]] long long get_int(const std::string& key,
                                                                                  long long def) const;
    [[deprecated("use the checked get_double(key, def, lo, hi)")]] double get_double(const std::string& key,
                                                                                     double def) const;

    // Every argument that is not "--x" or the value of a "--x value" pair named in `with_values`.
    std::vector<std::string> positional(const std::vector<std::string>& with_values) const;
    // Names of "--x" arguments that are not in `known`; commands report them as errors.
    std::vector<std::string> unknown(const std::vector<std::string>& known) const;

private:
    // 0: absent; 1: present, value in *out; -1: present as the last argument, without a value.
    int find(const std::string& key, std::string* out) const;

    const std::vector<std::string>& args_;
};

// Reads several checked options, keeping the first error, so a command checks once:
//   OptionReader o(args); int n = o.get_int("-n", 256, 1, INT32_MAX); ...; if (!o.ok()) return fail(cmd,
//   o.error());
class OptionReader {
public:
    explicit OptionReader(const Args& args) : args_(args) {}
    std::string get_string(const std::string& key, const std::string& def = "");
    long long get_int(const std::string& key, long long def, long long lo, long long hi);
    double get_double(const std::string& key, double def, double lo, double hi, bool lo_open = false);
    bool ok() const { return status_.is_ok(); }
    const std::string& error() const { return status_.message(); }

private:
    template <typename T>
    T keep(Result<T> r, T def) {
        if (r) return *r;
        if (status_.is_ok()) status_ = r.status();
        return def;
    }
    const Args& args_;
    Status status_;
};

// `docket-cli bench <name>`: benchmarks register under the one `bench` command (see cmd_bench.cpp).
bool register_bench(Command bench);
const std::vector<Command>& benches();

// Prints "docket-cli <cmd>: <message>" to stderr and returns 1 (or `code`).
int fail(const std::string& cmd, const std::string& message, int code = 1);

}  // namespace docket::cli

#define DOCKET_CLI_CONCAT_(a, b) a##b
#define DOCKET_CLI_CONCAT(a, b) DOCKET_CLI_CONCAT_(a, b)
#define DOCKET_CLI_COMMAND(name, summary, fn) \
    static const bool DOCKET_CLI_CONCAT(docket_cli_registered_, __LINE__) = ::docket::cli::register_command({name, summary, fn})
#define DOCKET_CLI_BENCH(name, summary, fn) \
    static const bool DOCKET_CLI_CONCAT(docket_cli_bench_, __LINE__) = ::docket::cli::register_bench({name, summary, fn})
