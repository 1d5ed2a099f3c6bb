// Segmenter properties on the real contracts of resources/sample-archive and on random texts: the segments
// concatenate to the input exactly, none exceeds max_tokens (re-counted), line numbers and ordinals are
// right, no segment is whitespace-only unless it fits with neither neighbour, greedy packing leaves no two
// neighbours that fit in target together; a 5 MB paragraph without spaces is cut at character boundaries in
// well under a second; Markdown headings start segments; SmolLM2's real tokenizer never sees a segment over
// max_tokens.
#include <QtTest>

#include <QElapsedTimer>
#include <filesystem>
#include <random>

#include "ingest/segmenter.h"
#include "ingest_test_util.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "model/tokenizer_unicode.h"

using namespace docket;
using namespace docket::ingest;

namespace {

bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Whitespace-separated words; whitespace alone is free.
int64_t count_words(std::string_view s) {
    int64_t n = 0;
    for (size_t i = 0; i < s.size(); ++i) n += !is_ws(s[i]) && (i == 0 || is_ws(s[i - 1]));
    return n;
}

// One token per started 4 bytes, whitespace included: forces character-level cuts of long words.
int64_t count_quads(std::string_view s) {
    return int64_t((s.size() + 3) / 4);
}

std::vector<std::string> sample_texts() {
    std::vector<std::string> out;
    const std::string dir = test::source_dir() + "/resources/sample-archive";
    std::vector<std::string> paths;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().extension() == ".txt") paths.push_back(e.path().string());
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) out.push_back(test::read_bytes(p));
    return out;
}

// 1-based line of the byte at `offset`, from the sorted offsets of every '\n'.
int line_of(const std::vector<int64_t>& newlines, int64_t offset) {
    return 1 + int(std::lower_bound(newlines.begin(), newlines.end(), offset) - newlines.begin());
}

bool valid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        uint32_t cp = 0;
        const size_t n = tok::utf8_decode(s, i, cp);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

// Every property of the contract; returns "" or what broke.
std::string check_segments(const std::string& text, const SegmenterOptions& opt, const TokenCounter& count,
                           const std::vector<Segment>& segs) {
    const bool blank = std::all_of(text.begin(), text.end(), is_ws);
    if (blank) return segs.empty() ? "" : "whitespace-only text gave segments";
    if (segs.empty()) return "no segments";
    const bool utf8 = valid_utf8(text);  // in invalid text a stray continuation byte may start a segment
    std::vector<int64_t> newlines;
    for (size_t i = 0; i < text.size(); ++i)
        if (text[i] == '\n') newlines.push_back(int64_t(i));
    std::string joined;
    int64_t pos = 0;
    for (size_t i = 0; i < segs.size(); ++i) {
        const Segment& s = segs[i];
        const std::string at = "segment " + std::to_string(i) + ": ";
        if (s.ordinal != int(i)) return at + "ordinal " + std::to_string(s.ordinal);
        if (s.char_begin != pos || s.char_end <= s.char_begin) return at + "not contiguous";
        if (s.text != text.substr(size_t(s.char_begin), size_t(s.char_end - s.char_begin)))
            return at + "text is not the substring";
        if (s.tokens > opt.max_tokens) return at + "tokens " + std::to_string(s.tokens) + " > max";
        if (const int64_t real = count(s.text); real > opt.max_tokens)
            return at + "re-counted " + std::to_string(real) + " > max";
        // Whitespace-only only where it could join neither neighbour within max_tokens (never when
        // whitespace counts nothing).
        const bool fits_prev = i > 0 && segs[i - 1].tokens + s.tokens <= opt.max_tokens;
        const bool fits_next = i + 1 < segs.size() && segs[i + 1].tokens + s.tokens <= opt.max_tokens;
        if (std::all_of(s.text.begin(), s.text.end(), is_ws) && (fits_prev || fits_next))
            return at + "whitespace only";
        if (utf8 && (uint8_t(text[size_t(s.char_begin)]) & 0xC0) == 0x80)
            return at + "starts inside a UTF-8 sequence";
        if (s.line_begin != line_of(newlines, s.char_begin))
            return at + "line_begin " + std::to_string(s.line_begin);
        if (s.line_end != line_of(newlines, s.char_end - 1))
            return at + "line_end " + std::to_string(s.line_end);
        if (i > 0 && segs[i - 1].tokens + s.tokens <= opt.target_tokens)
            return at + "could join the previous one";
        joined += s.text;
        pos = s.char_end;
    }
    if (pos != int64_t(text.size())) return "segments end before the text";
    return joined == text ? "" : "concatenation differs";
}

std::vector<Segment> split_ok(const std::string& text, const SegmenterOptions& opt,
                              const TokenCounter& count) {
    auto r = split_segments(text, opt, count);
    if (!r) qFatal("%s", r.status().to_string().c_str());
    return std::move(r).value();
}

#define CHECK_SEGMENTS(text, opt, count, segs)                            \
    do {                                                                  \
        const std::string why_ = check_segments(text, opt, count, segs);  \
        QVERIFY2(why_.empty(), qPrintable(QString::fromStdString(why_))); \
    } while (0)

// Random text from pieces that exercise every cut: words (ASCII and multi-byte), spaces, line breaks, blank
// lines, headings, sentence ends, long runs without whitespace.
std::string random_text(std::mt19937& rng) {
    static const std::vector<std::string> atoms = {"word",
                                                   "clause",
                                                   "caf\xC3\xA9",
                                                   "\xE2\x82\xAC"
                                                   "5",
                                                   "\xF0\x9F\x98\x80",
                                                   " ",
                                                   "  ",
                                                   "\t",
                                                   "\n",
                                                   "\n\n",
                                                   "\n \n\n",
                                                   ". ",
                                                   "? ",
                                                   "! ",
                                                   "; ",
                                                   "# Heading\n",
                                                   "\n## Sub heading\n",
                                                   "#notaheading",
                                                   "\r",
                                                   "\f"};
    std::string out;
    const int n = int(rng() % 400);
    for (int i = 0; i < n; ++i) {
        if (rng() % 50 == 0) {
            const std::string& a = atoms[rng() % 5];  // a long run without whitespace
            for (int k = int(rng() % 200); k > 0; --k) out += a;
        } else {
            out += atoms[rng() % atoms.size()];
        }
    }
    return out;
}

}  // namespace

class TestSegmenter : public QObject {
    Q_OBJECT
private slots:
    void sample_contracts_with_word_and_byte_counters() {
        const std::vector<std::string> texts = sample_texts();
        QCOMPARE(int(texts.size()), 8);
        const std::vector<SegmenterOptions> opts = {{}, {128, 256}, {40, 60}, {8, 8}};
        for (const auto& text : texts) {
            for (const auto& opt : opts) {
                for (const TokenCounter& count : {TokenCounter(count_words), TokenCounter(count_quads)}) {
                    const auto segs = split_ok(text, opt, count);
                    CHECK_SEGMENTS(text, opt, count, segs);
                }
            }
        }
        const auto segs = split_ok(texts[0], {128, 256}, count_words);
        qInfo("01-consulting: %zu bytes, %lld words -> %zu segments at target 128", texts[0].size(),
              (long long)count_words(texts[0]), segs.size());
        QVERIFY(segs.size() >= size_t(count_words(texts[0]) / 256));
    }

    void random_texts_hold_every_property() {
        std::mt19937 rng(20261204);
        for (int iter = 0; iter < 600; ++iter) {
            const std::string text = random_text(rng);
            SegmenterOptions opt;
            opt.target_tokens = 1 + int(rng() % 40);
            opt.max_tokens = opt.target_tokens + int(rng() % 40);
            opt.markdown_headings = rng() % 4 != 0;
            const TokenCounter count = iter % 2 ? TokenCounter(count_words) : TokenCounter(count_quads);
            const auto segs = split_ok(text, opt, count);
            const std::string why = check_segments(text, opt, count, segs);
            QVERIFY2(why.empty(), qPrintable(QString("iteration %1 (target %2, max %3): %4")
                                                 .arg(iter)
                                                 .arg(opt.target_tokens)
                                                 .arg(opt.max_tokens)
                                                 .arg(QString::fromStdString(why))));
        }
    }

    void random_bytes_hold_every_property() {
        std::mt19937 rng(99);
        for (int iter = 0; iter < 300; ++iter) {
            std::string text(rng() % 2000, '\0');
            for (char& c : text) c = char(rng() % 3 == 0 ? " \n\t#."[rng() % 5] : rng());
            const SegmenterOptions opt{1 + int(rng() % 20), 20 + int(rng() % 20)};
            const TokenCounter count = iter % 2 ? TokenCounter(count_words) : TokenCounter(count_quads);
            const auto segs = split_ok(text, opt, count);
            const std::string why = check_segments(text, opt, count, segs);
            QVERIFY2(why.empty(),
                     qPrintable(QString("iteration %1: %2").arg(iter).arg(QString::fromStdString(why))));
        }
    }

    void whitespace_only_and_empty_text_give_no_segments() {
        for (const std::string text : {"", " ", "\n\n\n", " \t\f\n  \n"}) {
            const auto segs = split_ok(text, {}, count_quads);
            QCOMPARE(segs.size(), size_t(0));
        }
    }

    void leading_and_trailing_whitespace_stay_in_the_first_and_last_segment() {
        const std::string text = "\n\n  first paragraph\n\n\nsecond paragraph\n\n  ";
        const auto segs = split_ok(text, {2, 2}, count_words);
        QCOMPARE(segs.size(), size_t(2));
        QCOMPARE(segs[0].text, std::string("\n\n  first paragraph\n\n\n"));
        QCOMPARE(segs[1].text, std::string("second paragraph\n\n  "));
        QCOMPARE(segs[0].line_begin, 1);
        QCOMPARE(segs[0].line_end, 5);
        QCOMPARE(segs[1].line_begin, 6);
        QCOMPARE(segs[1].line_end, 8);
        QCOMPARE(segs[1].tokens, int64_t(2));
    }

    void paragraphs_pack_greedily_up_to_target() {
        // Three 3-word paragraphs and target 6: the first two share a segment.
        const std::string text = "a b c\n\nd e f\n\ng h i\n";
        const auto segs = split_ok(text, {6, 10}, count_words);
        QCOMPARE(segs.size(), size_t(2));
        QCOMPARE(segs[0].text, std::string("a b c\n\nd e f\n\n"));
        QCOMPARE(segs[0].tokens, int64_t(6));
        QCOMPARE(segs[1].text, std::string("g h i\n"));
    }

    void long_paragraph_is_cut_at_lines_then_sentences_then_words() {
        const std::string lines = "one two three\nfour five six\nseven eight nine\n";
        auto segs = split_ok(lines, {3, 4}, count_words);
        QCOMPARE(segs.size(), size_t(3));
        QCOMPARE(segs[1].text, std::string("four five six\n"));
        const std::string sentences = "One two three. Four five six? Seven eight nine; ten.";
        segs = split_ok(sentences, {3, 4}, count_words);
        QCOMPARE(segs.size(), size_t(4));
        QCOMPARE(segs[0].text, std::string("One two three. "));
        QCOMPARE(segs[2].text, std::string("Seven eight nine; "));
        const std::string words = "a b c d e f g";
        segs = split_ok(words, {2, 3}, count_words);
        QCOMPARE(segs.size(), size_t(4));
        QCOMPARE(segs[0].text, std::string("a b "));
        CHECK_SEGMENTS(words, SegmenterOptions({2, 3}), count_words, segs);
    }

    void markdown_headings_start_paragraphs_and_segments() {
        const std::string text =
            "# Parties\nAcme and Beta agree.\n## Term\nOne year from signing.\n\n## Fees\n\nTen euros a "
            "month "
            "paid in advance.\n";
        SegmenterOptions opt{8, 16};
        const auto segs = split_ok(text, opt, count_words);
        CHECK_SEGMENTS(text, opt, count_words, segs);
        QCOMPARE(segs.size(), size_t(3));
        QCOMPARE(segs[0].text, std::string("# Parties\nAcme and Beta agree.\n"));
        QCOMPARE(segs[1].text, std::string("## Term\nOne year from signing.\n\n"));
        // The heading-only paragraph "## Fees" moves on with its body instead of ending segment 1.
        QCOMPARE(segs[2].text, std::string("## Fees\n\nTen euros a month paid in advance.\n"));
        QCOMPARE(segs[2].line_begin, 6);
        // Without Markdown headings the first two lines are one paragraph and headings may end segments.
        opt.markdown_headings = false;
        const auto plain = split_ok(text, opt, count_words);
        CHECK_SEGMENTS(text, opt, count_words, plain);
        QVERIFY(plain[0].text.find("## Term") != std::string::npos);
        // "#word" and seven hashes are not headings.
        const auto not_headings = split_ok("a b\n#c d\n####### e f\n", {2, 8}, count_words);
        QCOMPARE(not_headings.size(), size_t(1));
    }

    void consecutive_headings_move_on_together_with_their_body() {
        // Regression: only the last heading-only paragraph moved on, so "## A" ended the first segment.
        const std::string text = "a b\n\n## A\n\n### B\n\nbody words here\n";
        const SegmenterOptions opt{6, 20};
        const auto segs = split_ok(text, opt, count_words);
        CHECK_SEGMENTS(text, opt, count_words, segs);
        QCOMPARE(segs.size(), size_t(2));
        QCOMPARE(segs[0].text, std::string("a b\n\n"));
        QCOMPARE(segs[1].tokens, int64_t(7));
    }

    void character_cut_before_a_four_byte_character_stays_on_a_boundary() {
        // Regression: the cut one byte after the piece start was taken even inside a UTF-8 sequence.
        const auto segs = split_ok("a\xF0\x9F\x98\x80", {1, 1}, count_quads);
        QCOMPARE(segs.size(), size_t(2));
        QCOMPARE(segs[0].text, std::string("a"));
        QCOMPARE(segs[1].text, std::string("\xF0\x9F\x98\x80"));
    }

    void five_megabyte_paragraph_without_spaces_is_fast_and_cut_at_characters() {
        std::string text;
        while (text.size() < 5'000'000) text += "abc\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
        int64_t counted_bytes = 0;
        const TokenCounter quads = [&](std::string_view s) {
            counted_bytes += int64_t(s.size());
            return count_quads(s);
        };
        QElapsedTimer timer;
        timer.start();
        const auto segs = split_ok(text, {}, quads);
        const qint64 ms = timer.elapsed();
        qInfo("5 MB, byte counter: %zu segments in %lld ms, %.2f bytes counted per input byte", segs.size(),
              (long long)ms, double(counted_bytes) / double(text.size()));
        QVERIFY2(ms < 1000, qPrintable(QString("took %1 ms").arg(ms)));
        QVERIFY(double(counted_bytes) / double(text.size()) < 4.0);
        CHECK_SEGMENTS(text, SegmenterOptions(), count_quads, segs);
        QVERIFY(segs.size() > 5'000'000 / (4 * 1024));

        timer.restart();
        const auto one = split_ok(text, {}, count_words);  // one word: one token, one segment
        QVERIFY2(timer.elapsed() < 1000, qPrintable(QString("took %1 ms").arg(timer.elapsed())));
        QCOMPARE(one.size(), size_t(1));
        QCOMPARE(one[0].tokens, int64_t(1));
    }

    void long_paragraph_of_words_is_counted_in_chunks_not_per_word() {
        std::string text;
        for (int i = 0; i < 40000; ++i) text += i % 7 ? "word " : "clause\t";
        int calls = 0;
        const TokenCounter words = [&](std::string_view s) {
            ++calls;
            return count_words(s);
        };
        const auto segs = split_ok(text, {}, words);
        CHECK_SEGMENTS(text, SegmenterOptions(), count_words, segs);
        qInfo("40000 words, one line: %zu segments, %d counter calls", segs.size(), calls);
        QVERIFY(calls < 4 * int(segs.size()) + 4);
        QVERIFY(segs.size() <= size_t(40000 / 512 * 2));
    }

    void five_megabyte_text_of_many_paragraphs_segments_in_linear_time() {
        const std::vector<std::string> texts = sample_texts();
        std::string text;
        for (size_t i = 0; text.size() < 5'000'000; ++i) text += texts[i % texts.size()] + "\n\n";
        int64_t counted_bytes = 0;
        const TokenCounter words = [&](std::string_view s) {
            counted_bytes += int64_t(s.size());
            return count_words(s);
        };
        QElapsedTimer timer;
        timer.start();
        const auto segs = split_ok(text, {}, words);
        const qint64 ms = timer.elapsed();
        qInfo("5 MB of contracts: %zu segments in %lld ms", segs.size(), (long long)ms);
        QVERIFY2(ms < 1000, qPrintable(QString("took %1 ms").arg(ms)));
        QVERIFY(double(counted_bytes) / double(text.size()) < 3.0);
        QCOMPARE(segs.back().char_end, int64_t(text.size()));
    }

    void bad_options_and_an_oversized_character_are_errors() {
        QVERIFY(!split_segments("text", {0, 10}, count_words).is_ok());
        QVERIFY(!split_segments("text", {10, 9}, count_words).is_ok());
        const auto r = split_segments("ab", {1, 1}, [](std::string_view s) { return int64_t(2 * s.size()); });
        QVERIFY(!r.is_ok());
        QVERIFY2(r.status().message().find("character at byte 0") != std::string::npos,
                 qPrintable(QString::fromStdString(r.status().message())));
    }

    void smollm2_tokenizer_counts_never_pass_max_tokens() {
        auto gguf = GgufFile::open(test::smollm2_path());
        QVERIFY2(gguf.is_ok(), qPrintable(QString::fromStdString(gguf.status().to_string())));
        auto tok = Tokenizer::from_gguf(**gguf);
        QVERIFY2(tok.is_ok(), qPrintable(QString::fromStdString(tok.status().to_string())));
        const Tokenizer& t = **tok;
        const TokenCounter real = [&](std::string_view s) {
            return int64_t(t.encode(s, false, false).size());
        };
        std::vector<std::string> texts = sample_texts();
        std::string one_paragraph = texts[4];  // a whole contract as one paragraph, then as one line
        std::replace(one_paragraph.begin(), one_paragraph.end(), '\n', ' ');
        texts.push_back(one_paragraph);
        std::string no_spaces = texts[1].substr(0, 20000);
        no_spaces.erase(std::remove_if(no_spaces.begin(), no_spaces.end(), is_ws), no_spaces.end());
        texts.push_back(no_spaces);
        const SegmenterOptions opt{96, 128};
        size_t n_segments = 0;
        int64_t worst = 0;
        for (const auto& text : texts) {
            const auto segs = split_ok(text, opt, real);
            CHECK_SEGMENTS(text, opt, real, segs);
            for (const auto& s : segs) worst = std::max(worst, real(s.text));
            n_segments += segs.size();
        }
        qInfo("SmolLM2: %zu segments, largest re-counted %lld tokens (max %d)", n_segments, (long long)worst,
              opt.max_tokens);
    }
};

QTEST_GUILESS_MAIN(TestSegmenter)
#include "test_segmenter.moc"
