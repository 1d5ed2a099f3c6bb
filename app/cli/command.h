#pragma once
// Subcommand registry for docket-cli. A file registers a command with a static DOCKET_CLI_COMMAND at namespace
// scope; main() dispatches on argv[1]. Commands return the process exit code and print their own errors.
#include <functional>
#include <string>
#include <vector>

namespace docket::cli {

using CommandFn = std::function<int(const std::vector<std::string>& args)>;

struct Command {
    std::string name;
    std::string summary;  // one line for `docket-cli help`
    CommandFn run;
};

bool register_command(Command cmd);
const std::vector<Command>& commands();

// Small argument helpers shared by commands: "--key value" and "--flag" forms.
class Args {
public:
    explicit Args(const std::vector<std::string>& args) : args_(args) {}
    bool has(const std::string& flag) const;
    std::string get(const std::string& key, const std::string& def = "") const;
    long long get_int(const std::string& key, long long def) const;
    double get_double(const std::string& key, double def) const;
    // Every argument that is not "--x" or the value of a "--x value" pair named in `with_values`.
    std::vector<std::string> positional(const std::vector<std::string>& with_values) const;
    // Names of "--x" arguments that are not in `known`; commands report them as errors.
    std::vector<std::string> unknown(const std::vector<std::string>& known) const;

private:
    const std::vector<std::string>& args_;
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
