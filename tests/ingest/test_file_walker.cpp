// File walker on real folders: nested folders, symlinks to files and folders, a symlink loop, hidden names,
// unsupported files, FIFOs, missing inputs and broken links, an unreadable folder (walked as an unprivileged
// user when the test runs as root), duplicates across inputs, cancellation and the entry limit.
#include <QtTest>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ingest/file_walker.h"
#include "ingest/text_reader.h"
#include "ingest_test_util.h"

using namespace docket;
using namespace docket::ingest;

namespace {

std::string g_dir;

bool text_ext(const std::string& ext) {
    return is_text_extension(ext);
}

std::string make(const std::string& rel, std::string_view content = "text\n") {
    const std::string path = g_dir + "/" + rel;
    test::write_bytes(path, content);
    return path;
}

std::vector<std::string> paths_of(const WalkResult& r) {
    std::vector<std::string> out;
    for (const auto& f : r.files) out.push_back(f.path);
    return out;
}

const WalkError* find_error(const WalkResult& r, const std::string& path) {
    for (const auto& e : r.errors)
        if (e.path == path) return &e;
    return nullptr;
}

std::string describe(const WalkResult& r) {
    std::string s = "files:";
    for (const auto& f : r.files) s += " " + f.path;
    s += "\nerrors:";
    for (const auto& e : r.errors) s += " [" + e.path + ": " + e.reason + "]";
    s += "\nskipped:";
    for (const auto& p : r.skipped_unsupported) s += " " + p;
    return s;
}

#define CHECK_ERROR_AT(r, path, needle)                                                              \
    do {                                                                                             \
        const std::string p_ = (path);                                                               \
        const WalkError* e_ = find_error(r, p_);                                                     \
        QVERIFY2(e_, qPrintable(QString::fromStdString("no error for " + p_ + "\n" + describe(r)))); \
        QVERIFY2(e_->reason.find(needle) != std::string::npos,                                       \
                 qPrintable(QString::fromStdString(e_->reason)));                                    \
    } while (0)

}  // namespace

class TestFileWalker : public QObject {
    Q_OBJECT
private slots:
    void init() { g_dir = test::ingest_scratch("walker"); }
    void cleanup() { std::filesystem::remove_all(g_dir); }

    void nested_folders_hidden_names_and_unsupported_files() {
        make("root/a/b/c/deep.txt", "deep text");
        make("root/a/notes.md");
        make("root/Z.TXT");
        make("root/contract.pdf");
        make("root/.hidden.txt");
        make("root/.git/config.txt");
        make("root/a/.secret/s.md");
        make("root/a/b/data.bin");
        const WalkResult r = walk_inputs({g_dir + "/root"}, text_ext);
        const std::vector<std::string> expect = {g_dir + "/root/Z.TXT", g_dir + "/root/a/b/c/deep.txt",
                                                 g_dir + "/root/a/notes.md"};
        QVERIFY2(paths_of(r) == expect, qPrintable(QString::fromStdString(describe(r))));
        QVERIFY2(r.errors.empty(), qPrintable(QString::fromStdString(describe(r))));
        const std::vector<std::string> skipped = {g_dir + "/root/a/b/data.bin", g_dir + "/root/contract.pdf"};
        QVERIFY(r.skipped_unsupported == skipped);
        QVERIFY(!r.cancelled);
        struct stat st {};
        QCOMPARE(::stat(expect[1].c_str(), &st), 0);
        QCOMPARE(r.files[1].bytes, uint64_t(9));
        QCOMPARE(r.files[1].mtime_ns, int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
    }

    void explicit_inputs_hidden_taken_unsupported_refused_paths_normalized() {
        const std::string hidden = make("in/.env.txt");
        make("in/doc.md");
        make("in/scan.pdf");
        const std::string rel = std::filesystem::relative(g_dir + "/in/doc.md").string();
        const WalkResult r = walk_inputs({hidden, g_dir + "/in/scan.pdf", g_dir + "/in/./sub/../doc.md", rel,
                                          g_dir + "/in/", g_dir + "/in/doc.md"},
                                         text_ext);
        const std::vector<std::string> expect = {g_dir + "/in/.env.txt", g_dir + "/in/doc.md"};
        QVERIFY2(paths_of(r) == expect, qPrintable(QString::fromStdString(describe(r))));
        CHECK_ERROR_AT(r, g_dir + "/in/scan.pdf", "unsupported format");
        QCOMPARE(r.errors.size(), size_t(1));
        QVERIFY(r.skipped_unsupported == std::vector<std::string>{g_dir + "/in/scan.pdf"});
    }

    void symlinks_to_files_and_folders_are_followed_and_a_loop_is_an_error() {
        make("outside/shared.txt");
        make("outside/inner/more.md");
        make("tree/own.txt");
        QCOMPARE(::symlink((g_dir + "/outside/shared.txt").c_str(), (g_dir + "/tree/link.txt").c_str()), 0);
        QCOMPARE(::symlink((g_dir + "/outside").c_str(), (g_dir + "/tree/ext").c_str()), 0);
        std::filesystem::create_directories(g_dir + "/tree/sub");
        QCOMPARE(::symlink("../..", (g_dir + "/tree/sub/up").c_str()), 0);  // back to g_dir: contains tree
        QCOMPARE(::symlink("..", (g_dir + "/tree/sub/loop").c_str()), 0);   // back to tree
        QCOMPARE(::symlink("nowhere.txt", (g_dir + "/tree/broken.txt").c_str()), 0);
        const WalkResult r = walk_inputs({g_dir + "/tree"}, text_ext);
        CHECK_ERROR_AT(r, g_dir + "/tree/sub/loop", "symlink loop");
        CHECK_ERROR_AT(r, g_dir + "/tree/broken.txt", "broken symbolic link");
        // tree/sub/up is g_dir: walked once (its own "tree" is a loop back to the input; outside was already
        // reached through tree/ext, so it is not walked again).
        CHECK_ERROR_AT(r, g_dir + "/tree/sub/up/tree", "symlink loop");
        const std::vector<std::string> expect = {g_dir + "/tree/ext/inner/more.md",
                                                 g_dir + "/tree/ext/shared.txt", g_dir + "/tree/link.txt",
                                                 g_dir + "/tree/own.txt"};
        QVERIFY2(paths_of(r) == expect, qPrintable(QString::fromStdString(describe(r))));
        QCOMPARE(r.errors.size(), size_t(3));
    }

    void missing_inputs_fifos_and_other_types() {
        make("f/a.txt");
        QCOMPARE(::mkfifo((g_dir + "/f/pipe.txt").c_str(), 0600), 0);
        const WalkResult r = walk_inputs(
            {g_dir + "/nope", g_dir + "/f/a.txt/child", g_dir + "/f", g_dir + "/f/pipe.txt", ""}, text_ext);
        QVERIFY2(paths_of(r) == std::vector<std::string>{g_dir + "/f/a.txt"},
                 qPrintable(QString::fromStdString(describe(r))));
        CHECK_ERROR_AT(r, g_dir + "/nope", "does not exist");
        CHECK_ERROR_AT(r, g_dir + "/f/a.txt/child", "Not a directory");
        CHECK_ERROR_AT(r, g_dir + "/f/pipe.txt", "not a regular file or folder");
        CHECK_ERROR_AT(r, std::string(), "empty path");
        QCOMPARE(r.errors.size(), size_t(4));
    }

    void unreadable_folder_is_an_error_and_the_rest_is_walked() {
        // Root ignores permissions, so as root the walk runs in a child process as user "nobody" (65534), in
        // a folder under /tmp that it can reach.
        const std::string dir = "/tmp/docket-ingest-walk-" + std::to_string(::getpid());
        std::filesystem::remove_all(dir);
        test::write_bytes(dir + "/ok/a.txt", "a");
        test::write_bytes(dir + "/locked/b.txt", "b");
        std::filesystem::permissions(dir, std::filesystem::perms(0755));
        std::filesystem::permissions(dir + "/ok", std::filesystem::perms(0755));
        std::filesystem::permissions(dir + "/ok/a.txt", std::filesystem::perms(0644));
        std::filesystem::permissions(dir + "/locked", std::filesystem::perms(0));
        auto check = [&]() -> int {
            const WalkResult r = walk_inputs({dir}, text_ext);
            const WalkError* e = find_error(r, dir + "/locked");
            if (!e || e->reason.find("Permission denied") == std::string::npos) return 2;
            return paths_of(r) == std::vector<std::string>{dir + "/ok/a.txt"} && r.errors.size() == 1 ? 0 : 3;
        };
        int rc = 0;
        if (::geteuid() == 0) {
            const pid_t pid = ::fork();
            if (pid == 0) _exit(::setgid(65534) == 0 && ::setuid(65534) == 0 ? check() : 4);
            int status = 0;
            QCOMPARE(::waitpid(pid, &status, 0), pid);
            QVERIFY(WIFEXITED(status));
            rc = WEXITSTATUS(status);
        } else {
            rc = check();
        }
        std::filesystem::permissions(dir + "/locked", std::filesystem::perms(0755));
        std::filesystem::remove_all(dir);
        QCOMPARE(rc, 0);
    }

    void cancel_stops_the_walk() {
        for (int i = 0; i < 20; ++i) make("many/f" + std::to_string(100 + i) + ".txt");
        std::atomic<bool> cancel{true};
        WalkResult r = walk_inputs({g_dir + "/many"}, text_ext, &cancel);
        QVERIFY(r.cancelled);
        QVERIFY(r.files.empty());
        cancel = false;
        int calls = 0;
        r = walk_inputs(
            {g_dir + "/many"},
            [&](const std::string& ext) {
                if (++calls == 5) cancel = true;
                return text_ext(ext);
            },
            &cancel);
        QVERIFY(r.cancelled);
        QCOMPARE(r.files.size(), size_t(5));
    }

    void entry_limit_stops_with_an_error() {
        for (int i = 0; i < 30; ++i)
            make("lim/d" + std::to_string(i % 3) + "/f" + std::to_string(i) + ".txt");
        const WalkResult r = walk_inputs({g_dir + "/lim"}, text_ext, nullptr, 10);
        QCOMPARE(r.errors.size(), size_t(1));
        QVERIFY2(r.errors[0].reason.find("stopped after 10 entries") != std::string::npos,
                 qPrintable(QString::fromStdString(describe(r))));
        QVERIFY(r.files.size() < 10);
        const WalkResult all = walk_inputs({g_dir + "/lim"}, text_ext, nullptr, 34);
        QCOMPARE(all.files.size(), size_t(30));
        QVERIFY(all.errors.empty());
    }
};

QTEST_GUILESS_MAIN(TestFileWalker)
#include "test_file_walker.moc"
