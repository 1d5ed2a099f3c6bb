#pragma once
// docket-cli as a child process, with what QProcess does not give: its own peak RSS (wait4's rusage), the
// ability to signal it mid-run, and stdout/stderr in files that can be watched while it runs.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "cli_program.h"

extern char** environ;

namespace docket::test {

struct ChildResult {
    int exit_code = -1;   // -1 when killed by a signal
    int term_signal = 0;  // the signal that killed it, 0 if it exited
    bool timed_out = false;
    long max_rss_kb = 0;
    double seconds = 0;
    std::string out, err;
};

inline std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class CliChild {
public:
    // Starts docket-cli `args`, stdout and stderr going to files in `scratch_dir`.
    CliChild(const std::vector<std::string>& args, const std::string& scratch_dir)
        : out_(scratch_dir + "/child.out"), err_(scratch_dir + "/child.err") {
        std::vector<std::string> argv_s = {cli_program(args.empty() ? std::string() : args[0])};
        argv_s.insert(argv_s.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : argv_s) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_addopen(&fa, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
        posix_spawn_file_actions_destroy(&fa);
    }
    ~CliChild() {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    bool started() const { return pid_ > 0; }

    // Waits until stderr contains `text` (true) or the time runs out / the child ends (false).
    bool wait_for_stderr(const std::string& text, int timeout_ms) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (std::chrono::steady_clock::now() < end) {
            if (slurp(err_).find(text) != std::string::npos) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }
    bool wait_for_stdout_bytes(size_t n, int timeout_ms) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (std::chrono::steady_clock::now() < end) {
            if (slurp(out_).size() >= n) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }
    void signal(int sig) { ::kill(pid_, sig); }

    // Waits up to `timeout_ms` for the child to end (then kills it); `seconds` counts from this call.
    ChildResult wait(int timeout_ms) {
        ChildResult r;
        const auto t0 = std::chrono::steady_clock::now();
        int status = 0;
        struct rusage ru {};
        for (;;) {
            const pid_t p = ::wait4(pid_, &status, WNOHANG, &ru);
            if (p == pid_) break;
            if (std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(timeout_ms)) {
                r.timed_out = true;
                ::kill(pid_, SIGKILL);
                ::wait4(pid_, &status, 0, &ru);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        reaped_ = true;
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
        if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
        r.max_rss_kb = ru.ru_maxrss;
        r.out = slurp(out_);
        r.err = slurp(err_);
        return r;
    }

private:
    std::string out_, err_;
    pid_t pid_ = -1;
    bool reaped_ = false;
};

// Runs docket-cli to the end (or `timeout_ms`).
inline ChildResult run_cli_child(const std::vector<std::string>& args, const std::string& scratch_dir,
                                 int timeout_ms = 60000) {
    CliChild c(args, scratch_dir);
    if (!c.started()) return {};
    return c.wait(timeout_ms);
}

}  // namespace docket::test
