#pragma once
// Internal: byte-level BPE ("gpt2" tokenizer model). Text is split by the family's pre-tokenizer; each
// piece's bytes become alphabet symbols that are merged by rank (lowest first, leftmost on ties) on integer
// piece ids.
#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/tokenizer_pretok.h"
#include "model/tokenizer_vocab.h"

namespace docket::tok {

class BpeTokenizer final : public VocabTokenizer {
public:
    static Result<std::unique_ptr<Tokenizer>> load(const GgufFile& gguf);

    const PreFamily& pre_family() const { return pre_->family(); }

    // Merges one word in place. `ids` holds piece ids (vocabulary ids, or ids >= n_vocab for merge results
    // that are not tokens). Words longer than a threshold (or force_heap) use a heap instead of repeated
    // scans; both give the same result (tests check that).
    void merge_word(std::vector<int32_t>& ids, bool force_heap = false) const;
    // Initial piece ids of raw bytes (one alphabet symbol per byte).
    void bytes_to_pieces(std::string_view raw, std::vector<int32_t>& ids) const;

protected:
    void encode_text(std::string_view text, bool after_special, std::vector<TokenId>& out) const override;
    std::string normal_piece(std::string_view text) const override;

private:
    struct Merge {
        int32_t rank = -1;
        int32_t result = -1;
    };
    // Open-addressing map (pair of piece ids -> merge); the hot lookup of encoding.
    class MergeTable {
    public:
        void init(size_t n_expected);
        bool insert(int32_t left, int32_t right, Merge m);  // false if the pair is already present
        const Merge* find(int32_t left, int32_t right) const;

    private:
        static uint64_t key(int32_t l, int32_t r) {
            return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
        }
        size_t slot(uint64_t k) const { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> shift_); }
        std::vector<uint64_t> keys_;  // kEmpty where unused
        std::vector<Merge> vals_;
        int shift_ = 64;
        size_t mask_ = 0;
    };
    static constexpr uint64_t kEmpty = ~0ull;

    int32_t intern(std::string_view s);
    void merge_small(std::vector<int32_t>& ids) const;
    void merge_heap(std::vector<int32_t>& ids) const;
    void emit_piece(int32_t piece, std::vector<TokenId>& out) const;

    std::unique_ptr<PreTokenizer> pre_;
    MergeTable merges_;
    std::vector<std::string> extra_;  // non-token pieces; piece id n_vocab + i
    std::unordered_map<std::string, int32_t> extra_ids_;
    std::array<int32_t, 256> byte_piece_{};
    mutable std::atomic<bool> warned_unencodable_{false};
};

}  // namespace docket::tok
