#pragma once
// Page-aligned heap buffer for O_DIRECT I/O. 4 KiB alignment also satisfies the 256-byte page alignment, and
// the memory can be pinned later (cudaHostRegister) without copying.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <sys/mman.h>

namespace docket::store {

inline constexpr size_t kIoAlign = 4096;  // O_DIRECT offset/length/address alignment and extent alignment

inline constexpr uint64_t io_align_up(uint64_t x) {
    return (x + kIoAlign - 1) / kIoAlign * kIoAlign;
}

class AlignedBuffer {
public:
    AlignedBuffer() = default;
    explicit AlignedBuffer(size_t size) { resize(size); }
    ~AlignedBuffer() { std::free(data_); }
    AlignedBuffer(AlignedBuffer&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)),
          size_(std::exchange(o.size_, 0)),
          cap_(std::exchange(o.cap_, 0)) {}
    AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
        std::swap(data_, o.data_);
        std::swap(size_, o.size_);
        std::swap(cap_, o.cap_);
        return *this;
    }
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;

    // Grows capacity (rounded to kIoAlign) as needed; contents are not preserved across growth.
    // Returns false when the allocation fails.
    bool resize(size_t size) {
        if (size > cap_) {
            std::free(data_);
            data_ = nullptr;
            cap_ = size_ = 0;
            size_t cap = io_align_up(size);
            void* p = nullptr;
            if (posix_memalign(&p, kIoAlign, cap) != 0) return false;
            data_ = static_cast<uint8_t*>(p);
            cap_ = cap;
        }
        size_ = size;
        return true;
    }
    // Like resize, but 2 MiB aligned and rounded, with transparent huge pages requested (a hint: ignored
    // where THP is off). For O_DIRECT buffers: with 4 KiB pages scattered in physical memory a read of N KiB
    // is N/4 segments and the block layer splits it at the device's segment limit (virtio: 254, i.e. ~1 MiB
    // requests, seen at 512 KiB-1 MiB per request for the store's slots), while huge pages let one request
    // reach max_sectors_kb.
    bool resize_huge(size_t size) {
        constexpr size_t kHuge = size_t{2} << 20;
        if (size > cap_) {
            std::free(data_);
            data_ = nullptr;
            cap_ = size_ = 0;
            const size_t cap = (size + kHuge - 1) / kHuge * kHuge;
            void* p = nullptr;
            if (posix_memalign(&p, kHuge, cap) != 0) return false;
#ifdef MADV_HUGEPAGE
            (void)madvise(p, cap, MADV_HUGEPAGE);
#endif
            data_ = static_cast<uint8_t*>(p);
            cap_ = cap;
        }
        size_ = size;
        return true;
    }
    uint8_t* data() {
        return data_;
    }
    const uint8_t* data() const {
        return data_;
    }
    size_t size() const {
        return size_;
    }
    size_t capacity() const {
        return cap_;
    }

private:
    uint8_t* data_ = nullptr;
    size_t size_ = 0, cap_ = 0;
};

}  // namespace docket::store
