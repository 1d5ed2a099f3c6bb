#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <new>

#include "command.h"
#include "util/log.h"
#include "util/text_escape.h"

namespace docket::cli {

static std::vector<Command>& registry() {
    static std::vector<Command> r;
    return r;
}

bool register_command(Command cmd) {
    registry().push_back(std::move(cmd));
    return true;
}

const std::vector<Command>& commands() {
    return registry();
}

namespace {

bool contains(const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}
bool is_option(const std::string& a) {
    return a.size() > 1 && a[0] == '-';
}
bool is_negative_number(const std::string& a) {
    return a.size() > 1 && a[0] == '-' && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.');
}

}  // namespace

Args::Args(const std::vector<std::string>& args, ArgSpec spec) : spec_(std::move(spec)) {
    if (!contains(spec_.flags, "--help")) spec_.flags.push_back("--help");
    parse(args, /*legacy=*/false);
}

Args::Args(const std::vector<std::string>& args) {
    parse(args, /*legacy=*/true);
}

void Args::parse(const std::vector<std::string>& args, bool legacy) {
    auto violation = [this](Status s) {
        if (error_.is_ok()) error_ = std::move(s);
    };
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (!is_option(a)) {
            if (static_cast<int>(positional_.size()) >= spec_.positionals && !legacy)
                violation(make_error(ErrorCode::invalid_argument, "unexpected argument '{}'", a));
            positional_.push_back(a);
            continue;
        }
        const size_t eq = a.find('=');
        Option o{a.substr(0, eq), "", eq != std::string::npos};
        if (o.has_value) o.value = a.substr(eq + 1);
        const bool takes_value =
            legacy ? (i + 1 < args.size() && (!is_option(args[i + 1]) || is_negative_number(args[i + 1])))
                   : contains(spec_.values, o.name);
        if (!legacy && !takes_value && !contains(spec_.flags, o.name))
            violation(make_error(ErrorCode::invalid_argument, "unknown option {}", o.name));
        else if (!legacy && !takes_value && o.has_value)
            violation(make_error(ErrorCode::invalid_argument, "option {} takes no value", o.name));
        if (std::any_of(options_.begin(), options_.end(), [&](const Option& p) { return p.name == o.name; }))
            violation(make_error(ErrorCode::invalid_argument, "option {} given twice", o.name));
        if (takes_value && !o.has_value && i + 1 < args.size()) {
            o.value = args[++i];
            o.has_value = true;
        }
        options_.push_back(std::move(o));
    }
}

Status Args::check() const {
    return error_;
}

bool Args::has(const std::string& flag) const {
    return std::any_of(options_.begin(), options_.end(), [&](const Option& o) { return o.name == flag; });
}

int Args::find(const std::string& key, std::string* out) const {
    for (const auto& o : options_) {
        if (o.name != key) continue;
        if (!o.has_value) return -1;
        *out = o.value;
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

std::vector<std::string> Args::unknown(const std::vector<std::string>& known) const {
    std::vector<std::string> out;
    for (const auto& o : options_)
        if (!contains(known, o.name)) out.push_back(o.name);
    return out;
}

static const char* g_program = "docket-cli";

const char* program_name() {
    return g_program;
}

int fail(const std::string& cmd, const std::string& message, int code) {
    const std::string safe = escape_control(message, /*as_text=*/true);
    std::fprintf(stderr, "%s %s: %s\n", g_program, cmd.c_str(), safe.c_str());
    return code;
}

int usage_error(const std::string& cmd, const std::string& message, const std::string& usage) {
    fail(cmd, message);
    std::fputs(usage.c_str(), stderr);
    if (!usage.empty() && usage.back() != '\n') std::fputc('\n', stderr);
    return 2;
}

static int usage(FILE* out, const char* footer) {
    std::fprintf(out, "usage: %s <command> [options]\n\ncommands:\n", g_program);
    auto cmds = commands();
    std::sort(cmds.begin(), cmds.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
    for (const auto& c : cmds) std::fprintf(out, "  %-14s %s\n", c.name.c_str(), c.summary.c_str());
    std::fprintf(out, "\n'%s <command> --help' describes a command's options.\n", g_program);
    if (footer && *footer) std::fprintf(out, "%s", footer);
    return out == stdout ? 0 : 2;
}

int run_main(int argc, char** argv, const MainOptions& opt) {
    g_program = opt.program;
    docket::log::init();
    if (argc < 2) return usage(stderr, opt.footer);
    std::string name = argv[1];
    if (name == "help" || name == "--help" || name == "-h") return usage(stdout, opt.footer);
    std::vector<std::string> args(argv + 2, argv + argc);
    for (const auto& c : commands()) {
        if (c.name != name) continue;
        // Errors are values; this is the last seam, so that a missed allocation failure is still one error
        // line and exit 1, never an abort.
        try {
            return c.run(args);
        } catch (const std::bad_alloc&) {
            return fail(name, "out of memory");
        } catch (const std::exception& e) {
            return fail(name, std::string("internal error: ") + e.what());
        }
    }
    for (const auto& o : opt.elsewhere)
        if (o.first == name) {
            std::fprintf(stderr, "%s: '%s' is a command of %s\n", g_program, name.c_str(), o.second.c_str());
            return 2;
        }
    std::fprintf(stderr, "%s: unknown command '%s'\n\n", g_program, name.c_str());
    return usage(stderr, opt.footer);
}

}  // namespace docket::cli
