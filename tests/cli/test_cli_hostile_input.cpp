// The CLI half of issue 13: inputs a hostile user gives docket-cli (a FIFO as a model, a 1 GB prompt, a
// device as --out, SIGINT mid-prompt, escape sequences in metadata, stray options) end in a clear error or a
// clean stop, in bounded time and memory. Each slot is registered with ctest under the name of the defect.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <QTemporaryDir>
#include <QtTest>
#include <algorithm>

#include "cli_child.h"
#include "model/gguf_writer.h"
#include "test_paths.h"
#include "util/text_escape.h"

using namespace docket;
using namespace docket::test;

namespace {

long file_kb(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<long>(st.st_size / 1024) : 0;
}

mode_t file_type(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 ? (st.st_mode & S_IFMT) : 0;
}

void put_file(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
}

// `n` repetitions of " the": one SmolLM2 token each.
std::string words(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += " the";
    return s;
}

int lines(const std::string& s) {
    return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

std::string describe(const ChildResult& r) {
    return "exit " + std::to_string(r.exit_code) + " signal " + std::to_string(r.term_signal) +
           (r.timed_out ? " TIMED OUT" : "") + ", " + std::to_string(r.seconds) + " s, peak RSS " +
           std::to_string(r.max_rss_kb / 1024) + " MiB; stderr: " + r.err.substr(0, 600);
}

// The acceptance bound: peak RSS within 100 MB of the model's size, over the process's own start-up RSS (the
// shared libraries it maps: with CUDA linked, cuBLAS alone is ~200 MB), which no input changes.
constexpr long kRssSlackKb = 100 * 1024;

}  // namespace

class TestCliHostileInput : public QObject {
    Q_OBJECT

    QTemporaryDir tmp_;
    std::string dir() const { return tmp_.path().toStdString(); }
    std::string path(const std::string& name) const { return dir() + "/" + name; }
    std::string scratch() {
        const std::string d = path("run" + std::to_string(++runs_));
        ::mkdir(d.c_str(), 0700);
        return d;
    }
    int runs_ = 0;
    long baseline_kb_ = 0;  // peak RSS of `docket-cli help`
    long rss_limit_kb() const { return baseline_kb_ + file_kb(smollm2_path()) + kRssSlackKb; }

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        QVERIFY2(file_kb(smollm2_path()) > 0, smollm2_path().c_str());
        const auto r = run_cli_child({"help"}, scratch());
        QCOMPARE(r.exit_code, 0);
        baseline_kb_ = r.max_rss_kb;
        qInfo("start-up RSS %ld MiB, model %ld MiB", baseline_kb_ / 1024, file_kb(smollm2_path()) / 1024);
    }

    // Item 4: `make-model --out /dev/full` replaced the device node with a regular file (rename over whatever
    // the name held). A FIFO stands in for the device here: the old code replaced it the same way.
    void make_model_out_refuses_a_fifo_or_directory() {
        const std::string fifo = path("out.fifo"), sub = path("out.dir"), reg = path("out.gguf");
        QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
        QCOMPARE(::mkdir(sub.c_str(), 0700), 0);
        put_file(reg, "old");
        for (const auto& [target, want] : {std::pair{fifo, "is a FIFO"}, std::pair{sub, "is a directory"}}) {
            const auto r =
                run_cli_child({"make-model", "--shape", "tiny", "--type", "q8_0", "--out", target, "--quiet"},
                              scratch(), 60000);
            QVERIFY2(r.exit_code == 1 && r.err.find(want) != std::string::npos && lines(r.err) == 1,
                     describe(r).c_str());
        }
        QCOMPARE(file_type(fifo), static_cast<mode_t>(S_IFIFO));
        QCOMPARE(file_type(sub), static_cast<mode_t>(S_IFDIR));
        // A regular file is still replaced, and no temporary file is left behind.
        const auto ok = run_cli_child(
            {"make-model", "--shape", "tiny", "--type", "q8_0", "--out", reg, "--quiet"}, scratch(), 60000);
        QVERIFY2(ok.exit_code == 0, describe(ok).c_str());
        QVERIFY(file_kb(reg) > 100);
        QVERIFY(QDir(tmp_.path()).entryList({"*.tmp.*"}).isEmpty());
    }

    // Item 6: a 1 GB prompt file aborted in the tokenizer with an uncaught bad_alloc after 4.3 GB of RSS.
    // Now its size is refused before it is read: one error line, RSS within 100 MB of the model's size.
    void prompt_of_1gb_is_refused_in_bounded_memory() {
        const std::string big = path("big.txt");
        {
            const int fd = ::open(big.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            QVERIFY(fd >= 0);
            QCOMPARE(::ftruncate(fd, 1ll << 30), 0);  // sparse: costs no disk
            ::close(fd);
        }
        const long limit_kb = rss_limit_kb();
        const std::vector<std::vector<std::string>> runs = {
            {"generate", "--model", smollm2_path(), "--prompt-file", big, "-n", "1"},
            {"logits", "--model", smollm2_path(), "--prompt-file", big},
            {"tokenize", "--model", smollm2_path(), "--text-file", big},
            {"generate", "--model", smollm2_path(), "--prompt-file", "/dev/zero", "-n", "1"},
        };
        for (const auto& args : runs) {
            const auto r = run_cli_child(args, scratch(), 30000);
            const bool zero = args[4] == "/dev/zero";
            const std::string want = zero ? "is a character device" : "1073741824 bytes, more than";
            QVERIFY2(r.exit_code == 1 && lines(r.err) == 1 && r.err.find(want) != std::string::npos,
                     describe(r).c_str());
            QVERIFY2(r.max_rss_kb < limit_kb, describe(r).c_str());
        }
    }

    // Item 7: a prompt longer than --ctx allocated its whole KV cache before "exceeds --ctx" (2.6 GB for 36k
    // tokens). Now the length is checked first.
    void prompt_over_ctx_is_refused_before_allocating() {
        const std::string f = path("long.txt");
        put_file(f, words(8000));
        const auto r = run_cli_child({"generate", "--model", smollm2_path(), "--prompt-file", f, "-n", "1"},
                                     scratch(), 60000);
        QVERIFY2(
            r.exit_code == 1 && r.err.find("exceeds --ctx 4096") != std::string::npos && lines(r.err) == 1,
            describe(r).c_str());
        QVERIFY2(r.max_rss_kb < rss_limit_kb(), describe(r).c_str());
    }

    // Items 7 and 12: `--ctx 30000 -n 30000` allocated 2.3 GB of KV up front for a short answer, and SIGINT
    // during decoding stopped cleanly but exited 0. Now the cache grows with use and the exit code is 130.
    void kv_cache_grows_with_use_and_sigint_while_decoding_exits_130() {
        CliChild c({"generate", "--model", smollm2_path(), "--prompt", "Once upon a time", "--ctx", "30000",
                    "-n", "30000", "--threads", "2", "--backend", "cpu"},
                   scratch());
        QVERIFY(c.started());
        QVERIFY2(c.wait_for_stdout_bytes(24, 60000), "no text within 60 s");
        c.signal(SIGINT);
        const auto r = c.wait(10000);
        QVERIFY2(r.exit_code == 130 && r.err.find("stop: cancelled") != std::string::npos,
                 describe(r).c_str());
        QVERIFY2(r.max_rss_kb < rss_limit_kb(), describe(r).c_str());
    }

    // Item 8: `logits` had no context cap (a 9k-token prompt ran past 120 s) and no warning past the model's
    // context_length.
    void logits_has_a_context_cap_and_warns_past_the_model_context() {
        const std::string f = path("logits_long.txt");
        put_file(f, words(5000));
        auto r = run_cli_child({"logits", "--model", smollm2_path(), "--prompt-file", f}, scratch(), 30000);
        QVERIFY2(r.exit_code == 1 && r.err.find("exceeds --ctx 4096") != std::string::npos,
                 describe(r).c_str());
        r = run_cli_child({"logits", "--model", smollm2_path(), "--prompt", words(40), "--ctx", "16"},
                          scratch(), 30000);
        QVERIFY2(r.exit_code == 1 && r.err.find("exceeds --ctx 16") != std::string::npos,
                 describe(r).c_str());
        // The tiny random model's context is 2048 tokens; its byte-level vocabulary makes ~1 token per byte.
        const std::string tiny = path("tiny_ctx.gguf");
        r = run_cli_child({"make-model", "--shape", "tiny", "--type", "q8_0", "--out", tiny, "--quiet"},
                          scratch(), 60000);
        QVERIFY2(r.exit_code == 0, describe(r).c_str());
        std::string text;
        for (int i = 0; i < 3000; ++i) text += static_cast<char>('a' + (i * 7) % 26);
        put_file(path("tiny_prompt.txt"), text);
        r = run_cli_child({"logits", "--model", tiny, "--prompt-file", path("tiny_prompt.txt"), "--ctx",
                           "8192", "--top", "1"},
                          scratch(), 60000);
        QVERIFY2(r.exit_code == 0 && r.err.find("past the model's context length 2048") != std::string::npos,
                 describe(r).c_str());
        QVERIFY(r.out.find("\"top\":[{\"id\":") != std::string::npos);
    }

    // Item 10: `bench store --dir` below a regular file or under /proc aborted with an uncaught
    // std::filesystem::filesystem_error.
    void bench_store_dir_below_a_file_or_in_proc_is_one_error_line() {
        put_file(path("plain"), "x");
        for (const std::string& d : {path("plain") + "/sub", std::string("/proc/docket-bench-store-test")}) {
            const auto r = run_cli_child({"bench", "store", "--size", "64M", "--dir", d}, scratch(), 30000);
            QVERIFY2(r.exit_code == 1 && r.term_signal == 0 && lines(r.err) == 1 &&
                         r.err.rfind("docket-dev bench store: --dir ", 0) == 0,
                     describe(r).c_str());
        }
    }

    // Item 11: --model naming a FIFO blocked in open() forever; --prompt-file naming a directory said
    // "prompt is empty".
    void model_fifo_does_not_block_and_prompt_dir_is_named() {
        const std::string fifo = path("model.fifo");
        QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
        for (const auto& args :
             std::vector<std::vector<std::string>>{{"model-info", "--model", fifo},
                                                   {"generate", "--model", fifo, "--prompt", "hi"},
                                                   {"tokenize", "--model", fifo, "--text", "hi"},
                                                   {"make-model", "--shape", "tiny", "--type", "q8_0",
                                                    "--out", path("v.gguf"), "--vocab-from", fifo}}) {
            const auto r = run_cli_child(args, scratch(), 10000);
            QVERIFY2(!r.timed_out && r.exit_code == 1 &&
                         r.err.find("is a FIFO, not a regular file") != std::string::npos,
                     describe(r).c_str());
        }
        const auto r =
            run_cli_child({"generate", "--model", smollm2_path(), "--prompt-file", dir()}, scratch(), 30000);
        QVERIFY2(r.exit_code == 1 && r.err.find("is a directory, not a regular file") != std::string::npos,
                 describe(r).c_str());
    }

    // Item 12: SIGINT during prompt prefill was ignored (only SIGKILL stopped it). Now the run stops within
    // one prefill chunk and exits 130, for generate and logits.
    void sigint_during_prefill_exits_130_within_a_chunk() {
        const std::string f = path("prefill.txt");
        put_file(f, words(4000));
        for (const std::string cmd : {"generate", "logits"}) {
            CliChild c(
                {cmd, "--model", smollm2_path(), "--prompt-file", f, "--threads", "1", "--backend", "auto"},
                scratch());
            QVERIFY(c.started());
            QVERIFY2(c.wait_for_stderr("backend:", 30000), "no backend line within 30 s");
            std::this_thread::sleep_for(std::chrono::milliseconds(300));  // well inside the prefill
            c.signal(SIGINT);
            // One 128-token chunk on one thread takes about a second here; the whole prompt 30 or more.
            const auto r = c.wait(20000);
            QVERIFY2(r.exit_code == 130 && r.seconds < 10, (cmd + ": " + describe(r)).c_str());
        }
    }

    // Item 13: model-info printed metadata raw: escape sequences from a crafted GGUF reached the terminal and
    // a NUL cut the line. The same for tokenize --pieces.
    void untrusted_strings_are_printed_escaped() {
        GgufWriter w;
        QVERIFY(w.set_string("general.name", "evil\x1b]0;pwned\x07\x1b[2J").is_ok());
        QVERIFY(w.set_string("general.description", std::string("before\0after", 12)).is_ok());
        const std::string f = path("evil.gguf");
        QVERIFY(w.write_file(f).is_ok());
        auto r = run_cli_child({"model-info", "--model", f}, scratch(), 30000);
        QVERIFY2(r.exit_code == 0, describe(r).c_str());
        for (char bad : {'\x1b', '\x07', '\0'}) QVERIFY2(r.out.find(bad) == std::string::npos, r.out.c_str());
        QVERIFY2(r.out.find("evil\\e]0;pwned\\x07\\e[2J") != std::string::npos, r.out.c_str());
        QVERIFY2(r.out.find("before\\0after") != std::string::npos, r.out.c_str());
        // The helper itself: the forms a terminal could act on, each visible and distinct.
        QCOMPARE(escape_control("a\xe2\x80\xae"
                                "b\\c\xc2\x9b\x7f\r\n\t\xff"),
                 std::string("a\\u{202e}b\\\\c\\u{009b}\\x7f\\r\\n\\t\\xff"));
        QCOMPARE(escape_control("line\n\tC:\\x \xc3\xa9", /*as_text=*/true),
                 std::string("line\n\tC:\\x \xc3\xa9"));
        r = run_cli_child({"tokenize", "--model", smollm2_path(), "--text", "a\x1b[2Jb\x9b", "--pieces"},
                          scratch(), 30000);
        QVERIFY2(r.exit_code == 0, describe(r).c_str());
        QVERIFY2(r.out.find('\x1b') == std::string::npos && r.out.find("\\e") != std::string::npos,
                 r.out.c_str());
    }

    // Item 14: unknown short options (-N 3, -x) and stray arguments were silently ignored and a repeated
    // option took its first value. Every command now rejects them with the usage text, exit code 2.
    void unknown_short_options_strays_and_repeats_are_usage_errors() {
        const std::string m = "/nonexistent/model.gguf";
        const std::vector<std::vector<std::string>> commands = {
            {"generate", "--model", m, "--prompt", "hi"},
            {"logits", "--model", m, "--prompt", "hi"},
            {"tokenize", "--model", m, "--text", "hi"},
            {"model-info", "--model", m},
            {"make-model", "--shape", "tiny", "--type", "q8_0", "--out", "/nonexistent/x.gguf"},
            {"bench", "cpu", "--model", m},
            {"bench", "gpu", "--model", m},
            {"bench", "store", "--dir", "/nonexistent/store"},
            {"inspect", "--store", "/nonexistent/store"},
            {"verify", "--store", "/nonexistent/store"},
            {"compact", "--store", "/nonexistent/store"},
            {"collections", "--data", "/nonexistent/data"},
            {"documents", "--data", "/nonexistent/data", "--collection", "c"},
            {"remove", "--data", "/nonexistent/data", "--collection", "c"},
            {"ask", "--data", "/nonexistent/data", "--collection", "c", "question?"},
            {"ingest", "--data", "/nonexistent/data", "--collection", "c", "/nonexistent/file.txt"},
        };
        const std::vector<std::pair<std::vector<std::string>, std::string>> faults = {
            {{"-x"}, "unknown option -x"},
            {{"-N", "3"}, "unknown option -N"},
            {{"stray"}, "unexpected argument 'stray'"},
            {{"--bogus=1"}, "unknown option --bogus"},
        };
        for (auto base : commands) {
            const bool bench = base[0] == "bench";
            const std::string name = bench ? base[0] + " " + base[1] : base[0];
            auto cases = faults;
            if (base[0] == "ingest") cases.erase(cases.begin() + 2);  // ingest takes any number of paths
            cases.push_back(
                {{base[bench ? 2 : 1], "again"}, "option " + base[bench ? 2 : 1] + " given twice"});
            if (base[0] == "generate") cases.push_back({{"--chat=yes"}, "option --chat takes no value"});
            for (const auto& [extra, want] : cases) {
                auto args = base;
                args.insert(args.end(), extra.begin(), extra.end());
                const auto r = run_cli_child(args, scratch(), 30000);
                const std::string first = r.err.substr(0, r.err.find('\n'));
                const std::string program = program_name(base[0]);
                QVERIFY2(r.exit_code == 2 && first == program + " " + name + ": " + want &&
                             r.err.find("usage: " + program + " " + name) != std::string::npos &&
                             r.out.empty(),
                         (name + " + " + want + ": " + describe(r)).c_str());
            }
        }
        // A value that starts with '-' is still a value, and --key=value still works.
        const auto r = run_cli_child({"generate", "--model", m, "--prompt", "-x", "--temp=0", "--seed", "-1"},
                                     scratch(), 30000);
        QVERIFY2(r.exit_code == 1 && r.err.find("option --seed: -1 is out of range") != std::string::npos,
                 describe(r).c_str());
    }
};

QTEST_GUILESS_MAIN(TestCliHostileInput)
#include "test_cli_hostile_input.moc"
