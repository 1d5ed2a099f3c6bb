#pragma once
// Shared by the store-damage tests: a real store written by the engine from seeded snapshots, the bytes of
// every file in a directory (to prove a command left them identical), the CLI, and the check that a store
// still serves a snapshot exactly as written.
#include <QtTest>

#include <QProcess>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "store/segment_file.h"
#include "store/store.h"
#include "store_test_util.h"

namespace docket::test {

struct Written {
    uint64_t seed;
    SeededSnapshot snap;
    int64_t id;
    std::vector<store::ExtentLoc> extents;
};

// Small files and extents, so that a handful of snapshots spans several segment files.
inline store::StoreOptions small_store_options() {
    store::StoreOptions opt;
    opt.segment_file_bytes = 256 << 10;
    opt.extent_target_bytes = 64 << 10;
    opt.allow_io_uring = false;  // many opens per test; the reader kind is not what these tests are about
    return opt;
}

// Puts `n` seeded snapshots (seeds first_seed..) into the open store; returns them with their extents.
inline std::vector<Written> put_seeded(store::Store& st, uint64_t first_seed, int n) {
    std::vector<Written> out;
    for (int i = 0; i < n; ++i) {
        const uint64_t seed = first_seed + i;
        SeededSnapshot s = seeded_snapshot(seed);
        SyntheticKv kv = make_kv(seed, s.shape, s.n_tokens);
        auto id = st.put(s.key, s.shape, s.n_tokens, kv.fn());
        if (!id) qFatal("put: %s", id.status().to_string().c_str());
        auto r = st.reader();
        auto ext = (*r)->extents(*id);
        out.push_back({seed, s, *id, *ext});
    }
    return out;
}

// Path (relative to root) -> bytes, for every regular file below root.
using DirBytes = std::map<std::string, std::string>;
inline DirBytes dir_bytes(const std::string& root) {
    DirBytes out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
        if (!e.is_regular_file()) continue;
        std::ifstream f(e.path(), std::ios::binary);
        out[std::filesystem::relative(e.path(), root).string()] =
            std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    return out;
}

// The first difference between two DirBytes, "" when none.
inline std::string first_difference(const DirBytes& a, const DirBytes& b) {
    for (const auto& [p, bytes] : a) {
        auto it = b.find(p);
        if (it == b.end()) return p + " disappeared";
        if (it->second != bytes) return p + " changed";
    }
    for (const auto& [p, bytes] : b)
        if (!a.count(p)) return p + " appeared";
    return "";
}

struct CliResult {
    int code;
    QString out;
    bool crashed;
};
inline CliResult run_cli(const QStringList& args) {
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(DOCKET_CLI, args);
    if (!p.waitForFinished(60000)) return {-1, "timeout", true};
    return {p.exitCode(), QString::fromUtf8(p.readAll()), p.exitStatus() != QProcess::NormalExit};
}

// "" when the store at dir serves w ready, by its key, with exactly the pages it was written with.
inline std::string serves_exactly(store::Store& st, const Written& w) {
    auto r = st.reader();
    if (!r) return r.status().to_string();
    auto found = (*r)->find(w.snap.key);
    if (!found) return found.status().to_string();
    if (!*found) return "snapshot of seed " + std::to_string(w.seed) + " not found by its key";
    const store::SnapshotInfo& s = **found;
    if (!(s.shape == w.snap.shape) || s.n_tokens != w.snap.n_tokens) return "shape differs";
    store::AlignedBuffer pages;
    if (Status rs = (*r)->read_pages(s, 0, s.shape.n_layers, pages); !rs) return rs.to_string();
    const std::vector<uint8_t> want = expected_pages(w.snap, w.seed);
    if (pages.size() < want.size() || std::memcmp(pages.data(), want.data(), want.size()) != 0)
        return "pages of seed " + std::to_string(w.seed) + " differ";
    return "";
}

inline std::string segment_path(const std::string& dir, int64_t file_id) {
    return dir + "/segments/" + store::segment_file_name(file_id);
}

}  // namespace docket::test
