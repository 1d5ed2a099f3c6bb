#pragma once
// Subcommand registry of the two command-line programs: docket-cli (installed; its commands use engine/api
// only) and docket-dev (benchmarks, model tools, low-level generate/logits; not installed). A file registers
// a command with a static DOCKET_CLI_COMMAND at namespace scope (so command files are compiled into the
// executable, not a library); run_main() dispatches on argv[1]. Commands return the process exit code and
// print their own errors.
#include <functional>
#include <string>
#include <utility>
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

// The command line rule, the same for every command. A command declares its options once:
//   Args args(argv, {.values = {"--model", "-n"}, .flags = {"--chat"}});
//   if (args.has("--help")) ...print the usage, return 0...
//   if (Status s = args.check(); !s) return usage_error("generate", s.message(), kUsage);
// and check() rejects, naming the first offender:
//   - an option not declared, long or short ("unknown option -x"; "--help" is always declared);
//   - an option given twice ("option -n given twice"): a repeat never silently picks one of the values;
//   - a value given to a flag ("option --chat takes no value");
//   - more positional arguments than `positionals` ("unexpected argument 'foo'").
// A value option takes "--key value" (the next argument, even if it starts with '-': "--seed -1") or
// "--key=value". Anything else that starts with '-' is an option; "-" alone is a positional.
// A value option given last without its value is not a check() error: the getters report "needs a value".
struct ArgSpec {
    // Default member initializers let a command name only what it has ({.values = {...}}) without
    // -Wmissing-field-initializers.
    std::vector<std::string> values = {};  // options that take a value
    std::vector<std::string> flags = {};   // options without one
    int positionals = 0;                   // how many positional arguments the command takes (positional())
};

class Args {
public:
    Args(const std::vector<std::string>& args, ArgSpec spec);
    // Legacy form without a spec, for commands not yet switched (inspect, verify, compact): an option
    // followed by an argument that does not start with '-' (or is a negative number) takes it as its value,
    // so a stray argument after a flag goes unnoticed; check() reports only repeated options, unknown()
    // undeclared ones. New commands use the spec.
    explicit Args(const std::vector<std::string>& args);

    // The first violation of the rule above, or ok.
    Status check() const;
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

    // The positional arguments, in order (at most spec.positionals once check() passed).
    const std::vector<std::string>& positional() const { return positional_; }
    // Legacy form: names of options that are not in `known`. Commands with a spec use check().
    std::vector<std::string> unknown(const std::vector<std::string>& known) const;

private:
    struct Option {
        std::string name;
        std::string value;
        bool has_value = false;
    };
    void parse(const std::vector<std::string>& args, bool legacy);
    // 0: absent; 1: present, value in *out; -1: present without a value.
    int find(const std::string& key, std::string* out) const;

    ArgSpec spec_;
    std::vector<Option> options_;
    std::vector<std::string> positional_;
    Status error_;  // the first violation found by parse()
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

// `docket-dev bench <name>`: benchmarks register under the one `bench` command (see cmd_bench.cpp).
bool register_bench(Command bench);
const std::vector<Command>& benches();

// The program's name as run_main() was given it ("docket-cli" or "docket-dev").
const char* program_name();

struct MainOptions {
    const char* program = "docket-cli";
    const char* footer = "";  // printed after the command list
    // Commands that live in the other program: (name, program), so that `docket-dev bench` says where it is.
    std::vector<std::pair<std::string, std::string>> elsewhere = {};
};
// main() of both programs: logging set up, dispatch, the last catch.
int run_main(int argc, char** argv, const MainOptions& opt);

// Prints "<program> <cmd>: <message>" to stderr and returns 1 (or `code`). Control characters in the
// message (it may quote a file's metadata) are escaped (escape_control(.., as_text)).
int fail(const std::string& cmd, const std::string& message, int code = 1);
// A command line that breaks the rule: the message, then the command's usage text, on stderr; returns 2.
int usage_error(const std::string& cmd, const std::string& message, const std::string& usage);

}  // namespace docket::cli

#define DOCKET_CLI_CONCAT_(a, b) a##b
#define DOCKET_CLI_CONCAT(a, b) DOCKET_CLI_CONCAT_(a, b)
#define DOCKET_CLI_COMMAND(name, summary, fn)                               \
    static const bool DOCKET_CLI_CONCAT(docket_cli_registered_, __LINE__) = \
        ::docket::cli::register_command({name, summary, fn})
#define DOCKET_CLI_BENCH(name, summary, fn)                            \
    static const bool DOCKET_CLI_CONCAT(docket_cli_bench_, __LINE__) = \
        ::docket::cli::register_bench({name, summary, fn})
