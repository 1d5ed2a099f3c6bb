// docket-dev bench store: writes and reads back KV snapshots through the store and prints the read GB/s
// beside the raw O_DIRECT sequential read bandwidth of a scratch file of the same size, measured in the same
// run.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "command.h"
#include "format/kv_codec.h"
#include "store/block_reader.h"
#include "store/store.h"

namespace docket::cli {
namespace {

using Clock = std::chrono::steady_clock;
double secs(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// CPU seconds (user + system) of every thread of the process so far.
double cpu_secs() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct PassTime {
    double gbps = 0, cpu_s_per_gb = 0;
};

double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// GB/s and CPU s/GB each the median over the passes (taken separately).
PassTime median(const std::vector<PassTime>& passes) {
    std::vector<double> g, c;
    for (const auto& p : passes) g.push_back(p.gbps), c.push_back(p.cpu_s_per_gb);
    return PassTime{median_of(g), median_of(c)};
}

double best_gbps(const std::vector<PassTime>& passes) {
    double b = 0;
    for (const auto& p : passes) b = std::max(b, p.gbps);
    return b;
}

uint64_t parse_size(const std::string& s) {
    if (s.empty()) return 0;
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    switch (end && *end ? (*end | 0x20) : 0) {
        case 'k':
            v *= 1ull << 10;
            break;
        case 'm':
            v *= 1ull << 20;
            break;
        case 'g':
            v *= 1ull << 30;
            break;
        case 0:
            break;
        default:
            return 0;
    }
    return static_cast<uint64_t>(v);
}

// Realistic-looking pages: synthetic KV (outlier key channels) encoded once, reused under distinct keys.
std::vector<store::AlignedBuffer> make_page_sets(store::Codec codec, const store::KvShape& s, int64_t tokens,
                                                 int sets) {
    const size_t per_token = static_cast<size_t>(s.n_kv_heads) * s.head_dim;
    const int n_pages = kv_page::pages_for_tokens(tokens);
    const size_t pb = kv_page::page_bytes(codec, s.n_kv_heads, s.head_dim);
    std::vector<store::AlignedBuffer> out;
    std::mt19937_64 rng(1);
    std::normal_distribution<float> n01;
    std::vector<float> k(per_token * 64), v(per_token * 64), bias(per_token), scale(per_token);
    for (int set = 0; set < sets; ++set) {
        store::AlignedBuffer buf(static_cast<size_t>(s.n_layers) * n_pages * pb);
        for (int l = 0; l < s.n_layers; ++l) {
            for (size_t c = 0; c < per_token; ++c) {
                bias[c] = 2 * n01(rng);
                scale[c] = rng() % 16 == 0 ? 8.0f : 0.5f + std::fabs(n01(rng));
            }
            for (int p = 0; p < n_pages; ++p) {
                for (size_t i = 0; i < per_token * 64; ++i) {
                    k[i] = bias[i % per_token] + scale[i % per_token] * n01(rng);
                    v[i] = 0.3f * n01(rng);
                }
                const int valid = static_cast<int>(std::min<int64_t>(64, tokens - int64_t{p} * 64));
                (void)kv_page::encode_page(codec, s.n_kv_heads, s.head_dim, k.data(), v.data(), valid,
                                           buf.data() + (static_cast<size_t>(l) * n_pages + p) * pb);
            }
        }
        out.push_back(std::move(buf));
    }
    return out;
}

// Sequential read of `path` in `block`-byte requests through the same BlockReader kind the store uses
// (O_DIRECT unless `direct` is false).
Result<PassTime> raw_read(const std::string& path, uint64_t size, uint32_t block, int qd, bool uring,
                          bool direct) {
    int fd = ::open(path.c_str(), O_RDONLY | (direct ? O_DIRECT : 0));
    if (fd < 0) return make_error(ErrorCode::io_error, "open {}: {}", path, std::strerror(errno));
    // No callback threads: the callback only counts, so the ring thread runs it (no hand-off cost).
    DK_ASSIGN_OR_RETURN(auto io, store::make_block_reader({qd, uring, nullptr, 0}));
    std::vector<store::ReadRequest> reqs;
    for (uint64_t off = 0; off + block <= size; off += block) reqs.push_back({fd, off, block});
    std::atomic<uint64_t> short_reads{0};
    const double c0 = cpu_secs();
    auto t0 = Clock::now();
    Status st = io->read(reqs, [&](size_t i, const uint8_t*, int64_t r) {
        if (r != reqs[i].length) short_reads.fetch_add(1, std::memory_order_relaxed);
    });
    auto t1 = Clock::now();
    const double c1 = cpu_secs();
    ::close(fd);
    DK_TRY(st);
    if (short_reads.load() != 0)
        return make_error(ErrorCode::io_error, "{}: {} short or failed reads", path, short_reads.load());
    const double gb = static_cast<double>(reqs.size()) * block / 1e9;
    return PassTime{gb / secs(t0, t1), (c1 - c0) / gb};
}

// "max_sectors_kb N (vda)" of the block device holding `dir`, or why not known.
std::string device_limits(const std::string& dir) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return "device limits unknown";
    const std::string sys =
        "/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
    std::error_code ec;
    const std::string dev = std::filesystem::canonical(sys, ec).filename().string();
    for (const char* q : {"/queue/max_sectors_kb", "/../queue/max_sectors_kb"}) {  // a disk, or a partition
        if (FILE* f = std::fopen((sys + q).c_str(), "r")) {
            unsigned kb = 0;
            const bool got = std::fscanf(f, "%u", &kb) == 1;
            std::fclose(f);
            if (got) return "device " + dev + " max_sectors_kb " + std::to_string(kb);
        }
    }
    return "device " + (dev.empty() ? std::string("?") : dev) +
           ": max_sectors_kb unknown (not a block device?)";
}

Status write_scratch(const std::string& path, uint64_t size, bool direct) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | (direct ? O_DIRECT : 0), 0600);
    if (fd < 0) return make_error(ErrorCode::io_error, "create {}: {}", path, std::strerror(errno));
    store::AlignedBuffer buf(8 << 20);
    std::mt19937_64 rng(2);
    for (size_t i = 0; i < buf.size() / 8; ++i) reinterpret_cast<uint64_t*>(buf.data())[i] = rng();
    for (uint64_t off = 0; off < size; off += buf.size()) {
        if (::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(off)) !=
            static_cast<ssize_t>(buf.size())) {
            ::close(fd);
            return make_error(ErrorCode::io_error, "write {}: {}", path, std::strerror(errno));
        }
    }
    ::fdatasync(fd);
    ::close(fd);
    return Status::ok();
}

constexpr const char* kUsage =
    "usage: docket-dev bench store [--size 2G] [--dir DIR] [--codec int4] [--shape "
    "llama3-8b|smollm2]\n"
    "                              [--tokens 2048] [--qd 8,32,64] [--batch 256M] [--pread] "
    "[--no-direct] [--keep]\n"
    "                              [--passes 5] [--check-threads N] [--extent 1M] [--raw-block 1M]\n"
    "  Writes snapshots totalling SIZE on disk into a fresh store under DIR (default: "
    "./docket-bench-store),\n"
    "  reads them all back (checksums verified, pages unpacked into aligned buffers) at each queue "
    "depth,\n"
    "  and prints GB/s beside an O_DIRECT sequential read of a scratch file of the same size, as a "
    "ratio,\n"
    "  with the CPU seconds (all threads, user + system) each side spends per GB.\n"
    "  --batch: page buffers per read_pages_many call (whole snapshots; the queue drains at the end "
    "of each\n"
    "  call). Buffers are allocated and touched before the timed passes.\n"
    "  --passes: raw and store passes per depth, alternating; the ratio compares medians (and, "
    "beside it,\n"
    "  bests). --check-threads: threads per reader that checksum and copy completed reads (default "
    "min(4, cores);\n"
    "  0: on the io_uring thread). --extent: raw page bytes per extent the store writes (default "
    "1M).\n"
    "  --raw-block: request size of the raw pass (default 1M). --scratch-first: write the scratch "
    "file\n"
    "  before the store instead of after it (a virtual disk's host may cache recent writes).\n"
    "  --no-direct: buffered I/O for the store and the scratch file, both read once before timing, "
    "so the\n"
    "  passes run from the page cache: a measure of the CPU side of the read path, NOT of the "
    "disk.\n";

int run(const std::vector<std::string>& argv) {
    Args args(argv, {.values = {"--size", "--dir", "--codec", "--shape", "--tokens", "--qd", "--batch",
                                "--passes", "--check-threads", "--extent", "--raw-block"},
                     .flags = {"--pread", "--no-direct", "--keep", "--scratch-first"}});
    if (args.has("--help")) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (Status s = args.check(); !s) return usage_error("bench store", s.message(), kUsage);
    const uint64_t size = parse_size(args.get("--size", "2G"));
    if (size < (64ull << 20)) return fail("bench store", "--size must be at least 64M (e.g. 2G)");
    const std::string codec_name = args.get("--codec", "int4");
    auto codec_r = kv_page::parse_codec(codec_name, "--codec");
    if (!codec_r) return fail("bench store", codec_r.status().message());
    const store::Codec codec = *codec_r;
    const std::string shape_name = args.get("--shape", "llama3-8b");
    store::KvShape shape;
    if (shape_name == "llama3-8b")
        shape = {32, 8, 128};
    else if (shape_name == "smollm2")
        shape = {30, 3, 64};
    else
        return fail("bench store", "--shape must be llama3-8b or smollm2");
    auto tokens_r = args.get_int("--tokens", 2048, 1, 8192);
    if (!tokens_r) return fail("bench store", tokens_r.status().message());
    const int64_t tokens = *tokens_r;
    std::vector<int> qds;
    {
        std::string list = args.get("--qd", "8,32,64");
        for (size_t p = 0; p < list.size();) {
            size_t q = list.find(',', p);
            int v = std::atoi(list.substr(p, q - p).c_str());
            if (v < 1 || v > 1024)
                return fail("bench store", "--qd takes depths within 1..1024, comma-separated");
            qds.push_back(v);
            p = q == std::string::npos ? list.size() : q + 1;
        }
    }
    auto passes_r = args.get_int("--passes", 5, 1, 101);
    if (!passes_r) return fail("bench store", passes_r.status().message());
    const int passes = static_cast<int>(*passes_r);
    auto check_threads_r = args.get_int("--check-threads", -1, -1, 64);
    if (!check_threads_r) return fail("bench store", check_threads_r.status().message());
    const int check_threads = static_cast<int>(*check_threads_r);
    const uint64_t extent_bytes = args.has("--extent") ? parse_size(args.get("--extent", "")) : 0;
    if (args.has("--extent") && (extent_bytes < (64u << 10) || extent_bytes > (64u << 20)))
        return fail("bench store", "--extent takes a size within 64K..64M");
    const uint64_t raw_block = parse_size(args.get("--raw-block", "1M"));
    if (raw_block < 4096 || raw_block > (64u << 20) || raw_block % 4096)
        return fail("bench store", "--raw-block takes a multiple of 4K within 4K..64M");
    const bool uring = !args.has("--pread");
    const bool direct = !args.has("--no-direct");
    const uint64_t batch_bytes = parse_size(args.get("--batch", "256M"));
    if (batch_bytes == 0) return fail("bench store", "--batch takes a size (e.g. 256M, 2G)");
    const std::string dir = args.get("--dir", "docket-bench-store");
    // error_code forms throughout: a --dir below a regular file or in /proc is an error line, not an uncaught
    // filesystem_error.
    std::error_code ec;
    if (std::filesystem::symlink_status(dir, ec).type() != std::filesystem::file_type::not_found)
        return fail("bench store", ec ? fmt::format("--dir {}: {}", dir, ec.message())
                                      : dir + " exists; give --dir a fresh path");
    if (std::filesystem::create_directories(dir, ec); ec)
        return fail("bench store", fmt::format("--dir {}: cannot create it: {}", dir, ec.message()));
    const std::string store_dir = dir + "/store", scratch = dir + "/raw-scratch.bin";

    auto cleanup = [&] {
        std::error_code rm_ec;
        if (!args.has("--keep") && (std::filesystem::remove_all(dir, rm_ec), rm_ec))
            std::fprintf(stderr, "docket-dev bench store: cannot remove %s: %s\n", dir.c_str(),
                         rm_ec.message().c_str());
    };
    auto bail = [&](const Status& s) {
        cleanup();
        return fail("bench store", s.to_string());
    };

    std::printf(
        "bench store: %s, %s shape (%d layers x %d kv heads x %d), %lld tokens per snapshot, %.2f GB in "
        "%s%s\n",
        codec_name.c_str(), shape_name.c_str(), shape.n_layers, shape.n_kv_heads, shape.head_dim,
        (long long)tokens, size / 1e9, dir.c_str(),
        direct ? "" : "\n  --no-direct: BUFFERED reads from the page cache (CPU side only, not the disk)");
    const int n_pages = kv_page::pages_for_tokens(tokens);
    const size_t pb = kv_page::page_bytes(codec, shape.n_kv_heads, shape.head_dim);
    auto sets = make_page_sets(codec, shape, tokens, 4);

    // The order of the two writes can matter on a virtual disk whose host caches recent writes: by default
    // the scratch file is written after the store (the raw pass reads the fresher data); --scratch-first
    // swaps that (sized with one snapshot of margin, and the raw pass reads as many bytes as the store
    // holds).
    const bool scratch_first = args.has("--scratch-first");
    if (scratch_first) {
        const uint64_t margin = static_cast<uint64_t>(shape.n_layers) * n_pages * pb * 2 + (64u << 20);
        if (Status s = write_scratch(scratch, (size + margin + 4095) / 4096 * 4096, direct); !s)
            return bail(s);
    }
    // Write.
    std::vector<store::SnapshotInfo> snaps;
    uint64_t written = 0, raw_bytes = 0, n_extents = 0;
    double write_s = 0;
    {
        store::StoreOptions opt;
        opt.queue_depth = *std::max_element(qds.begin(), qds.end());
        opt.allow_io_uring = uring;
        opt.o_direct = direct;
        if (extent_bytes) opt.extent_target_bytes = extent_bytes;
        auto st = store::Store::open(store_dir, opt);
        if (!st) return bail(st.status());
        auto t0 = Clock::now();
        for (uint64_t i = 0; written < size; ++i) {
            store::SnapshotKey key;
            key.codec = kv_page::default_codec_params(codec, shape.head_dim);
            key.content = Hash128{i, 0xBE4C};
            const auto& set = sets[i % sets.size()];
            auto id = (*st)->put_pages(key, shape, tokens, [&](int l, int p) {
                return set.data() + (static_cast<size_t>(l) * n_pages + p) * pb;
            });
            if (!id) return bail(id.status());
            auto stats = (*st)->stats();
            if (!stats) return bail(stats.status());
            written = stats->live_bytes;
            raw_bytes = stats->raw_bytes;
        }
        write_s = secs(t0, Clock::now());
        auto r = (*st)->reader();
        if (!r) return bail(r.status());
        auto list = (*r)->list();
        if (!list) return bail(list.status());
        snaps = *list;
        for (const auto& sn : snaps) {
            auto ext = (*r)->extents(sn.id);
            if (!ext) return bail(ext.status());
            n_extents += ext->size();
        }
    }
    std::printf(
        "write: %zu snapshots, %.2f GB on disk (%.2f GB of pages, %.0f B/token), %.2f GB/s (synced)\n",
        snaps.size(), written / 1e9, raw_bytes / 1e9, double(written) / (snaps.size() * tokens),
        written / write_s / 1e9);
    // Reads the block layer splits (a request over the device's max_sectors_kb) cost the store more requests
    // per byte than the raw pass when its extents are not a divisor of that size.
    std::printf("reads: store %llu extents of %.0f KiB on average, raw %u KiB requests; %s\n",
                (unsigned long long)n_extents, n_extents ? written / 1024.0 / n_extents : 0.0,
                unsigned(raw_block >> 10), device_limits(dir).c_str());
    if (!scratch_first)
        if (Status s = write_scratch(scratch, written, direct); !s) return bail(s);
    std::printf("order: %s\n", scratch_first ? "scratch file written before the store (--scratch-first)"
                                             : "store written before the scratch file");

    // Page buffers, allocated and touched once: a host cache has its slots before it loads anything.
    const size_t snap_bytes = static_cast<size_t>(shape.n_layers) * n_pages * pb;
    const size_t batch = std::min<size_t>(snaps.size(), std::max<size_t>(1, batch_bytes / snap_bytes));
    std::vector<store::AlignedBuffer> bufs(batch);
    for (auto& b : bufs) {
        if (!b.resize(snap_bytes))
            return bail(make_error(ErrorCode::out_of_memory, "page buffer of {} bytes", snap_bytes));
        std::memset(b.data(), 0, snap_bytes);
    }
    std::printf("read: %zu snapshot(s) per read_pages_many call (%.0f MB of page buffers)\n", batch,
                batch * snap_bytes / 1e6);

    // Read back at each queue depth, alternating raw and store passes so drift hits both alike.
    std::printf("%-4s %-12s %9s %9s %8s %9s %9s %8s %9s %9s\n", "", "", "median", "median", "median", "best",
                "best", "best", "CPU s/GB", "CPU s/GB");
    std::printf("%-4s %-12s %9s %9s %8s %9s %9s %8s %9s %9s\n", "qd", "reader", "raw GB/s", "store", "ratio",
                "raw GB/s", "store", "ratio", "raw", "store");
    bool warmed = direct;
    for (int qd : qds) {
        store::StoreOptions opt;
        opt.queue_depth = qd;
        opt.read_check_threads = check_threads;
        opt.allow_io_uring = uring;
        opt.o_direct = direct;
        auto st = store::Store::open(store_dir, opt);
        if (!st) return bail(st.status());
        auto reader = (*st)->reader();
        if (!reader) return bail(reader.status());
        auto store_pass = [&]() -> Result<PassTime> {
            const double c0 = cpu_secs();
            auto t0 = Clock::now();
            for (size_t i = 0; i < snaps.size(); i += batch) {
                const size_t n = std::min(batch, snaps.size() - i);
                DK_TRY((*reader)->read_pages_many(std::span(snaps).subspan(i, n), std::span(bufs).first(n)));
            }
            const double s = secs(t0, Clock::now()), c = cpu_secs() - c0;
            return PassTime{written / s / 1e9, c / (written / 1e9)};
        };
        if (!warmed) {  // --no-direct: fill the page cache with both files before timing
            if (auto r = raw_read(scratch, written, uint32_t(raw_block), qd, uring, direct); !r)
                return bail(r.status());
            if (auto r = store_pass(); !r) return bail(r.status());
            warmed = true;
        }
        // Shared virtual disks drift by tens of percent between seconds: raw and store passes alternate
        // (raw, store, raw, store, ...) so drift hits both alike, and each statistic is taken on both sides.
        std::vector<PassTime> raws, stores;
        for (int pass = 0; pass < passes; ++pass) {
            auto raw = raw_read(scratch, written, uint32_t(raw_block), qd, uring, direct);
            if (!raw) return bail(raw.status());
            raws.push_back(*raw);
            auto sto = store_pass();
            if (!sto) return bail(sto.status());
            stores.push_back(*sto);
        }
        const PassTime raw_med = median(raws), sto_med = median(stores);
        const double raw_best = best_gbps(raws), sto_best = best_gbps(stores);
        std::printf("%-4d %-12s %9.2f %9.2f %7.1f%% %9.2f %9.2f %7.1f%% %9.3f %9.3f\n", qd,
                    (*reader)->io_kind(), raw_med.gbps, sto_med.gbps, 100 * sto_med.gbps / raw_med.gbps,
                    raw_best, sto_best, 100 * sto_best / raw_best, raw_med.cpu_s_per_gb,
                    sto_med.cpu_s_per_gb);
    }
    std::printf(
        "(%d raw and %d store passes per depth, alternating; ratio = store median / raw median, best ratio = "
        "store best / raw best;\n CPU s/GB: median over the passes, all threads, user + system)\n",
        passes, passes);
    cleanup();
    return 0;
}

}  // namespace

DOCKET_CLI_BENCH("store", "KV snapshot store: write, then read GB/s vs raw O_DIRECT read of the same size",
                 run);

}  // namespace docket::cli
