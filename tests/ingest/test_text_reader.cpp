// Text reader: each encoding written as a real file (UTF-8 with and without BOM, UTF-16 LE/BE with BOM and
// surrogate pairs, Windows-1252 smart quotes and euro sign, Latin-1), line-end normalization, and the
// refusals (binary, empty, FIFO without blocking, directory, over the size limit, missing, undecodable,
// unsupported).
#include <QtTest>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <random>

#include "ingest/text_reader.h"
#include "ingest_test_util.h"
#include "model/tokenizer_unicode.h"

using namespace docket;
using namespace docket::ingest;

namespace {

std::string g_dir;

std::string write(const std::string& name, std::string_view bytes) {
    const std::string path = g_dir + "/" + name;
    test::write_bytes(path, bytes);
    return path;
}

// UTF-16 code units of `units` as bytes with a BOM.
std::string utf16(const std::vector<uint16_t>& units, bool le) {
    std::string out = le ? "\xFF\xFE" : "\xFE\xFF";
    for (const uint16_t u : units) {
        const char lo = char(u & 0xFF), hi = char(u >> 8);
        out += le ? std::string{lo, hi} : std::string{hi, lo};
    }
    return out;
}

TextDocument read_ok(const std::string& path) {
    auto r = read_text_file(path, 1 << 20);
    if (!r) qFatal("%s", r.status().to_string().c_str());
    return std::move(r).value();
}

// The error of reading `path`; fails the test if the read succeeded.
Status read_error(const std::string& path, uint64_t max_bytes = 1 << 20) {
    auto r = read_text_file(path, max_bytes);
    return r ? Status(ErrorCode::ok, "") : r.status();
}

#define CHECK_ERROR(st, code_, needle)                                                                 \
    do {                                                                                               \
        const Status s_ = (st);                                                                        \
        QVERIFY2(!s_.is_ok(), "expected an error");                                                    \
        QVERIFY2(s_.code() == (code_), qPrintable(QString::fromStdString(s_.to_string())));            \
        QVERIFY2(s_.message().find(needle) != std::string::npos,                                       \
                 qPrintable(QString::fromStdString(s_.message() + " lacks: " + std::string(needle)))); \
    } while (0)

}  // namespace

class TestTextReader : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { g_dir = test::ingest_scratch("text-reader"); }

    void utf8_without_bom_is_kept_byte_for_byte() {
        const std::string text =
            "Clause 1. Caf\xC3\xA9 \xE2\x82\xAC"
            "5\n  indented\ttab\fpage\n\xF0\x9F\x98\x80 end";
        const auto doc = read_ok(write("plain.txt", text));
        QCOMPARE(doc.text, text);
        QCOMPARE(doc.encoding, std::string("utf-8"));
        QCOMPARE(doc.format, std::string("txt"));
        QCOMPARE(doc.bytes, uint64_t(text.size()));
    }

    void utf8_bom_is_stripped() {
        const auto doc = read_ok(write("bom.md", "\xEF\xBB\xBF# Title\n\nBody \xC3\xA9\n"));
        QCOMPARE(doc.text, std::string("# Title\n\nBody \xC3\xA9\n"));
        QCOMPARE(doc.encoding, std::string("utf-8"));
        QCOMPARE(doc.format, std::string("md"));
        QCOMPARE(doc.bytes, uint64_t(3 + doc.text.size()));
    }

    void utf16le_and_be_with_bom_decode_surrogate_pairs_and_crlf() {
        // "A€😀\r\nB" : U+1F600 is the pair D83D DE00.
        const std::vector<uint16_t> units = {'A', 0x20AC, 0xD83D, 0xDE00, '\r', '\n', 'B'};
        const std::string expect = "A\xE2\x82\xAC\xF0\x9F\x98\x80\nB";
        const auto le = read_ok(write("le.txt", utf16(units, true)));
        QCOMPARE(le.text, expect);
        QCOMPARE(le.encoding, std::string("utf-16le"));
        QCOMPARE(le.bytes, uint64_t(2 + 2 * units.size()));
        const auto be = read_ok(write("be.txt", utf16(units, false)));
        QCOMPARE(be.text, expect);
        QCOMPARE(be.encoding, std::string("utf-16be"));
    }

    void utf16_unpaired_surrogates_become_replacement_characters() {
        // lone high, lone low, high followed by a non-surrogate, high at the very end
        const std::vector<uint16_t> units = {0xD800, 'a', 0xDC00, 'b', 0xDBFF, 'c', 0xD83D};
        const auto doc = read_ok(write("surrogates.txt", utf16(units, true)));
        const std::string r = "\xEF\xBF\xBD";
        QCOMPARE(doc.text, r + "a" + r + "b" + r + "c" + r);
    }

    void windows_1252_smart_quotes_and_euro_sign() {
        // “Fees” – €100… ‘ok’ ™ Š; 0x81 is undefined in the code page.
        const auto doc = read_ok(write("cp1252.txt",
                                       "\x93"
                                       "Fees\x94 \x96 \x80"
                                       "100\x85 \x91ok\x92 \x99 \x8A \x81."));
        QCOMPARE(doc.encoding, std::string("windows-1252"));
        QCOMPARE(doc.text, std::string("\xE2\x80\x9C"
                                       "Fees\xE2\x80\x9D \xE2\x80\x93 \xE2\x82\xAC"
                                       "100\xE2\x80\xA6 "
                                       "\xE2\x80\x98ok\xE2\x80\x99 \xE2\x84\xA2 \xC5\xA0 \xEF\xBF\xBD."));
    }

    void latin1_decodes_as_its_windows_1252_subset() {
        const auto doc = read_ok(write("latin1.text",
                                       "Caf\xE9 na\xEFve \xA7"
                                       "3 \xBD \xFF\r\n"));
        QCOMPARE(doc.encoding, std::string("windows-1252"));
        QCOMPARE(doc.text, std::string("Caf\xC3\xA9 na\xC3\xAFve \xC2\xA7"
                                       "3 \xC2\xBD \xC3\xBF\n"));
        QCOMPARE(doc.format, std::string("txt"));
    }

    void crlf_and_lone_cr_become_lf_and_nothing_else_changes() {
        const auto doc = read_ok(write("crlf.txt", "  a\r\nb\rc\n\r\n\r\rd  \r"));
        QCOMPARE(doc.text, std::string("  a\nb\nc\n\n\n\nd  \n"));
    }

    void extension_picks_the_format_case_insensitively() {
        QCOMPARE(read_ok(write("x.MARKDOWN", "m")).format, std::string("md"));
        QCOMPARE(read_ok(write("x.Md", "m")).format, std::string("md"));
        QCOMPARE(read_ok(write("x.TEXT", "t")).format, std::string("txt"));
        QVERIFY(is_text_extension(".TxT"));
        QVERIFY(!is_text_extension(".pdf"));
        QVERIFY(!is_text_extension(""));
        CHECK_ERROR(read_error(write("x.pdf", "%PDF-1.4")), ErrorCode::unsupported, "unsupported format");
        CHECK_ERROR(read_error(write("noext", "text")), ErrorCode::unsupported, "noext");
    }

    void binary_garbage_named_txt_is_refused() {
        std::mt19937 rng(7);
        std::string junk(4096, '\0');
        for (char& c : junk) c = char(rng());
        const std::string path = write("garbage.txt", junk);
        CHECK_ERROR(read_error(path), ErrorCode::unsupported, "binary content");
        CHECK_ERROR(read_error(path), ErrorCode::unsupported, path);
    }

    void control_characters_without_nul_are_binary_but_a_few_are_not() {
        std::string many;
        for (int i = 0; i < 50; ++i) many += "word\x01\x02\x1B ";
        CHECK_ERROR(read_error(write("controls.txt", many)), ErrorCode::unsupported, "control characters");
        std::string few(1000, 'a');
        few[10] = '\x1B';
        few[500] = '\x07';
        QCOMPARE(read_ok(write("few-controls.txt", few)).text, few);
    }

    void nul_in_utf16_text_is_binary() {
        CHECK_ERROR(read_error(write("nul16.txt", utf16({'a', 0, 'b'}, true))), ErrorCode::unsupported,
                    "NUL");
        CHECK_ERROR(read_error(write("utf32.txt", std::string("\xFF\xFE\0\0a\0\0\0", 8))),
                    ErrorCode::unsupported, "UTF-32");
    }

    void undecodable_bytes_are_refused() {
        CHECK_ERROR(read_error(write("badbom.txt", "\xEF\xBB\xBFok \xC3(")), ErrorCode::corrupt_data,
                    "undecodable");
        CHECK_ERROR(read_error(write("odd16.txt", std::string("\xFF\xFE"
                                                              "a\0b",
                                                              5))),
                    ErrorCode::corrupt_data, "odd number");
    }

    void empty_file_and_bom_only_file_are_refused() {
        CHECK_ERROR(read_error(write("empty.txt", "")), ErrorCode::invalid_argument, "empty file");
        CHECK_ERROR(read_error(write("bomonly.txt", "\xEF\xBB\xBF")), ErrorCode::invalid_argument,
                    "empty file");
    }

    void fifo_is_refused_without_blocking() {
        const std::string path = g_dir + "/pipe.txt";
        QCOMPARE(::mkfifo(path.c_str(), 0600), 0);
        auto pending = std::async(std::launch::async, [&] { return read_error(path); });
        if (pending.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
            const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);  // release the blocked reader
            if (fd >= 0) ::close(fd);
            QFAIL("read_text_file blocked on a FIFO");
        }
        CHECK_ERROR(pending.get(), ErrorCode::invalid_argument, "not a regular file (a FIFO)");
    }

    void directory_is_refused() {
        const std::string path = g_dir + "/folder.txt";
        std::filesystem::create_directories(path);
        CHECK_ERROR(read_error(path), ErrorCode::invalid_argument, "not a regular file (a directory)");
    }

    void size_limit_is_checked_before_reading() {
        const std::string path = write("big.txt", std::string(1000, 'x'));
        CHECK_ERROR(read_error(path, 999), ErrorCode::invalid_argument,
                    "1000 bytes is over the size limit of 999");
        auto at_limit = read_text_file(path, 1000);
        QVERIFY(at_limit.is_ok());
        QCOMPARE(at_limit->bytes, uint64_t(1000));
    }

    void missing_file_is_not_found() {
        CHECK_ERROR(read_error(g_dir + "/nope.txt"), ErrorCode::not_found, "cannot open: No such file");
    }

    void symlink_to_a_regular_file_is_followed() {
        const std::string target = write("target.txt", "linked text\n");
        const std::string link = g_dir + "/link.md";
        QCOMPARE(::symlink(target.c_str(), link.c_str()), 0);
        const auto doc = read_ok(link);
        QCOMPARE(doc.text, std::string("linked text\n"));
        QCOMPARE(doc.format, std::string("md"));
    }

    void real_contract_round_trips_as_utf8() {
        const std::string path =
            test::source_dir() + "/resources/sample-archive/01-consulting-aduro-ireya.txt";
        const auto doc = read_ok(path);
        QCOMPARE(doc.encoding, std::string("utf-8"));
        QCOMPARE(doc.text, test::read_bytes(path));
    }

    void random_bytes_decode_to_clean_utf8_or_an_error() {
        std::mt19937 rng(1234);
        const std::vector<std::string> prefixes = {"", "", "\xEF\xBB\xBF", "\xFF\xFE", "\xFE\xFF"};
        int decoded = 0;
        for (int iter = 0; iter < 3000; ++iter) {
            std::string bytes = prefixes[rng() % prefixes.size()];
            const int n = 1 + int(rng() % 300);
            const int mode = int(rng() % 3);  // any byte / printable ASCII and high bytes / mostly ASCII
            for (int i = 0; i < n; ++i) {
                const uint8_t b = uint8_t(rng());
                bytes += char(mode == 0   ? b
                              : mode == 1 ? (b < 0x20 ? b + 0x20 : b)
                                          : (b % 8 ? 'a' + b % 26 : b));
            }
            auto r = decode_text(bytes, "fuzz");
            if (!r) {
                QVERIFY(r.status().message().rfind("fuzz: ", 0) == 0);
                continue;
            }
            ++decoded;
            const std::string& t = r->text;
            QVERIFY(!t.empty());
            QVERIFY(t.find('\r') == std::string::npos);
            QVERIFY(t.find('\0') == std::string::npos);
            QVERIFY(t.rfind("\xEF\xBB\xBF", 0) != 0 || bytes.rfind("\xEF\xBB\xBF\xEF\xBB\xBF", 0) == 0);
            for (size_t i = 0; i < t.size();) {
                uint32_t cp = 0;
                const size_t len = tok::utf8_decode(t, i, cp);
                QVERIFY2(len > 0,
                         qPrintable(QString("invalid UTF-8 at %1 (%2)").arg(i).arg(r->encoding.c_str())));
                i += len;
            }
        }
        qInfo("%d of 3000 random inputs decoded", decoded);
        QVERIFY(decoded > 500);
    }

    void cleanupTestCase() { std::filesystem::remove_all(g_dir); }
};

QTEST_GUILESS_MAIN(TestTextReader)
#include "test_text_reader.moc"
