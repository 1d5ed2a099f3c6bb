#pragma once
// Batched positional reads into caller buffers: io_uring (O_DIRECT) when the kernel allows it, else a pread
// thread pool (the fallback is logged once per process). One BlockReader belongs to one thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "util/status.h"

namespace docket::store {

struct ReadRequest {
    int fd = -1;
    uint64_t offset = 0;  // multiples of kIoAlign when fd is O_DIRECT
    uint32_t length = 0;  // a multiple of kIoAlign when fd is O_DIRECT
};

// Called once per request with the bytes read (valid only during the call; the buffer is reused) and the
// result: bytes read (== length unless the file ended) or -errno.
using ReadDone = std::function<void(size_t index, const uint8_t* data, int64_t result)>;

class BlockReader {
public:
    virtual ~BlockReader() = default;
    // Reads every request into the reader's own aligned buffers (about queue_depth of them, so memory stays
    // bounded however many requests there are), keeping up to queue_depth() in flight, and calls on_done as
    // each completes, on reader threads (io_uring: its callback workers, or this thread with none; pool: the
    // pool threads), concurrently for different indexes. Every on_done has returned when read() returns.
    // Returns an error only when the reader itself fails; per-request failures arrive as a negative result.
    virtual Status read(std::span<const ReadRequest> reqs, const ReadDone& on_done) = 0;
    virtual const char* kind() const = 0;
    virtual int queue_depth() const = 0;
};

struct IoFaults;

struct BlockReaderOptions {
    int queue_depth = 64;
    bool allow_io_uring = true;  // false forces the pread pool (tests exercise both)
    IoFaults* faults = nullptr;  // test hook: fail the N-th io_uring submit
    // io_uring: threads that run on_done (checksum + copy) while the ring thread keeps the queue full.
    // < 0: min(4, hardware threads); 0: on the ring thread between sweeps.
    int callback_threads = -1;
};

// io_uring when available (and allowed), else the pread pool.
Result<std::unique_ptr<BlockReader>> make_block_reader(const BlockReaderOptions& opt);
Result<std::unique_ptr<BlockReader>> make_uring_reader(int queue_depth, IoFaults* faults = nullptr,
                                                       int callback_threads = -1);
std::unique_ptr<BlockReader> make_pread_pool_reader(int threads);

}  // namespace docket::store
