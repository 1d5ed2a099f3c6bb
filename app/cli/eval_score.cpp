#include "eval_score.h"

#include "api/text.h"

#include <algorithm>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

namespace docket::cli::eval {
namespace {

using nlohmann::json;

Result<std::string> string_field(const json& j, const char* key, int64_t line_no) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string())
        return make_error(ErrorCode::invalid_argument, "line {}: '{}' must be a string", line_no, key);
    return it->get<std::string>();
}

Result<std::vector<std::string>> string_list(const json& j, const char* key, int64_t line_no) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_array())
        return make_error(ErrorCode::invalid_argument, "line {}: '{}' must be an array of strings", line_no,
                          key);
    std::vector<std::string> out;
    for (const json& v : *it) {
        if (!v.is_string())
            return make_error(ErrorCode::invalid_argument, "line {}: '{}' must be an array of strings",
                              line_no, key);
        out.push_back(v.get<std::string>());
    }
    return out;
}

bool is_ascii_punct(unsigned char c) {
    return c < 128 && std::ispunct(c);
}

std::vector<std::string> words(std::string_view s) {
    std::vector<std::string> out;
    std::istringstream in{normalize_answer(s)};
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

char ascii_lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool starts_with_ci(std::string_view text, size_t at, std::string_view s) {
    if (s.empty() || at + s.size() > text.size()) return false;
    for (size_t i = 0; i < s.size(); ++i)
        if (ascii_lower(text[at + i]) != ascii_lower(s[i])) return false;
    return true;
}

std::string_view trim(std::string_view s) {
    const size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

}  // namespace

Result<QaItem> parse_qa_line(const std::string& line, int64_t line_no) {
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return make_error(ErrorCode::invalid_argument, "line {}: not valid JSON", line_no);
    if (!j.is_object()) return make_error(ErrorCode::invalid_argument, "line {}: not a JSON object", line_no);
    QaItem q;
    DK_ASSIGN_OR_RETURN(q.id, string_field(j, "id", line_no));
    DK_ASSIGN_OR_RETURN(q.scope, string_field(j, "scope", line_no));
    DK_ASSIGN_OR_RETURN(q.qtype, string_field(j, "qtype", line_no));
    DK_ASSIGN_OR_RETURN(q.question, string_field(j, "question", line_no));
    DK_ASSIGN_OR_RETURN(q.answers, string_list(j, "answers", line_no));
    DK_ASSIGN_OR_RETURN(q.doc_ids, string_list(j, "doc_ids", line_no));
    if (auto it = j.find("answer_verbatim"); it != j.end() && it->is_string()) {
        std::string v = it->get<std::string>();
        if (std::find(q.answers.begin(), q.answers.end(), v) == q.answers.end())
            q.answers.push_back(std::move(v));
    }
    if (auto it = j.find("evidence_offset"); it != j.end() && !it->is_null()) {
        if (!it->is_number_integer())
            return make_error(ErrorCode::invalid_argument, "line {}: 'evidence_offset' must be an integer",
                              line_no);
        q.evidence_offset = it->get<int64_t>();
    }
    if (auto it = j.find("gold_doc"); it != j.end() && !it->is_null()) {
        if (!it->is_string())
            return make_error(ErrorCode::invalid_argument, "line {}: 'gold_doc' must be a string", line_no);
        q.gold_doc = it->get<std::string>();
    }
    if (auto it = j.find("evidence"); it != j.end() && !it->is_null()) {
        if (!it->is_string())
            return make_error(ErrorCode::invalid_argument, "line {}: 'evidence' must be a string", line_no);
        q.evidence = it->get<std::string>();
    }
    return q;
}

std::string normalize_answer(std::string_view text) {
    const std::string s = canonical_dates(text);
    std::string out;
    std::string word;
    auto flush = [&] {
        if (word.empty() || word == "a" || word == "an" || word == "the") {
            word.clear();
            return;
        }
        if (!out.empty()) out += ' ';
        out += word;
        word.clear();
    };
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (is_ascii_punct(c)) continue;  // deleted, not a break: "U.S." is "us"
        if (c < 128 && std::isspace(c)) {
            flush();
            continue;
        }
        word += ascii_lower(ch);
    }
    flush();
    return out;
}

bool contains_answer(std::string_view prediction, const std::vector<std::string>& answers) {
    // Padded with spaces so only whole words match ("cal" is not in "california").
    auto padded = [](std::string_view s) {
        std::string out(1, ' ');
        out += normalize_answer(s);
        out += ' ';
        return out;
    };
    const std::string p = padded(prediction);
    for (const auto& a : answers) {
        const std::string n = padded(a);
        if (n.size() > 2 && p.find(n) != std::string::npos) return true;
    }
    return false;
}

double token_f1(std::string_view prediction, std::string_view answer) {
    const std::vector<std::string> p = words(prediction), g = words(answer);
    if (p.empty() || g.empty()) return p.empty() && g.empty() ? 1.0 : 0.0;
    std::map<std::string, int> counts;
    for (const auto& w : g) ++counts[w];
    int common = 0;
    for (const auto& w : p)
        if (auto it = counts.find(w); it != counts.end() && it->second > 0) {
            --it->second;
            ++common;
        }
    if (common == 0) return 0.0;
    const double precision = static_cast<double>(common) / static_cast<double>(p.size());
    const double recall = static_cast<double>(common) / static_cast<double>(g.size());
    return 2 * precision * recall / (precision + recall);
}

double best_token_f1(std::string_view prediction, const std::vector<std::string>& answers) {
    double best = 0.0;
    for (const auto& a : answers) best = std::max(best, token_f1(prediction, a));
    return best;
}

double set_f1(const std::set<std::string>& predicted, const std::set<std::string>& gold) {
    if (predicted.empty() || gold.empty()) return predicted.empty() && gold.empty() ? 1.0 : 0.0;
    size_t common = 0;
    for (const auto& x : predicted) common += gold.count(x);
    if (common == 0) return 0.0;
    const double precision = static_cast<double>(common) / static_cast<double>(predicted.size());
    const double recall = static_cast<double>(common) / static_cast<double>(gold.size());
    return 2 * precision * recall / (precision + recall);
}

ArchiveScoring archive_scoring(const QaItem& q) {
    if (q.qtype.ends_with("count")) return ArchiveScoring::count;
    if (q.qtype.ends_with("compare")) return ArchiveScoring::compare;
    return ArchiveScoring::list;
}

const char* archive_scoring_name(ArchiveScoring s) {
    return s == ArchiveScoring::list ? "list" : s == ArchiveScoring::count ? "count" : "compare";
}

ArchiveGold archive_gold(const QaItem& q, const std::set<std::string>& collection,
                         const std::set<std::string>& archive) {
    ArchiveGold g;
    if (archive_scoring(q) == ArchiveScoring::compare) {
        const bool all_in =
            !q.doc_ids.empty() && std::all_of(q.doc_ids.begin(), q.doc_ids.end(),
                                              [&](const auto& d) { return collection.count(d) > 0; });
        if (!all_in)
            g.skip = "documents not all in the collection";
        else if (q.gold_doc.empty() || !collection.count(q.gold_doc))
            g.skip = "no gold document";
        g.gold_doc = q.gold_doc;
        return g;
    }
    for (const auto& d : collection)
        if (!archive.count(d)) {
            g.skip = "the collection holds documents outside the QA set's archive (their gold is unknown)";
            return g;
        }
    for (const auto& d : q.doc_ids)
        if (collection.count(d)) g.documents.insert(d);
    return g;
}

double archive_score(ArchiveScoring s, const ArchiveGold& gold, const std::set<std::string>& predicted,
                     const std::string& chosen) {
    switch (s) {
        case ArchiveScoring::list:
            return set_f1(predicted, gold.documents);
        case ArchiveScoring::count:
            return predicted.size() == gold.documents.size() ? 1.0 : 0.0;
        case ArchiveScoring::compare:
            return !chosen.empty() && chosen == gold.gold_doc ? 1.0 : 0.0;
    }
    return 0.0;
}

int64_t utf8_byte_offset(std::string_view text, int64_t chars) {
    int64_t seen = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        // Continuation bytes (10xxxxxx) belong to the code point before them.
        if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
        if (seen == chars) return static_cast<int64_t>(i);
        ++seen;
    }
    return static_cast<int64_t>(text.size());
}

std::optional<ByteSpan> locate_evidence(std::string_view text, std::optional<int64_t> char_offset,
                                        const std::string& evidence) {
    constexpr std::string_view kGap = "<omitted>";
    const std::string_view ev = evidence;
    const std::string_view first = trim(ev.substr(0, ev.find(kGap)));
    const size_t last_gap = ev.rfind(kGap);
    const std::string_view last =
        last_gap == std::string_view::npos ? first : trim(ev.substr(last_gap + kGap.size()));
    if (first.empty()) return std::nullopt;
    std::optional<size_t> begin;
    if (char_offset && *char_offset >= 0) {
        const auto b = static_cast<size_t>(utf8_byte_offset(text, *char_offset));
        if (starts_with_ci(text, b, first)) begin = b;  // the annotation's case may differ from the text's
    }
    if (!begin) {
        const size_t f = text.find(first);
        if (f == std::string_view::npos) return std::nullopt;
        begin = f;
    }
    size_t end = *begin + first.size();
    if (last_gap != std::string_view::npos && !last.empty()) {
        if (const size_t l = text.find(last, end); l != std::string_view::npos) end = l + last.size();
    }
    return ByteSpan{static_cast<int64_t>(*begin), static_cast<int64_t>(std::min(end, text.size()))};
}

std::vector<int> segments_holding(const std::vector<SegmentSpan>& segments, ByteSpan span) {
    std::vector<int> out;
    for (const auto& s : segments)
        if (s.begin < span.end && span.begin < s.end) out.push_back(s.ordinal);
    return out;
}

std::vector<int> oracle_context(const std::vector<SegmentSpan>& segments, ByteSpan evidence,
                                int64_t budget_tokens) {
    // Indices into `segments` (in document order) of the first and last segment holding the evidence.
    int lo = -1, hi = -1;
    for (int i = 0; i < static_cast<int>(segments.size()); ++i) {
        const auto& s = segments[i];
        if (s.begin < evidence.end && evidence.begin < s.end) {
            if (lo < 0) lo = i;
            hi = i;
        }
    }
    if (lo < 0) return {};
    int64_t used = 0;
    for (int i = lo; i <= hi; ++i) used += segments[i].tokens;
    const int n = static_cast<int>(segments.size());
    for (bool after = true;; after = !after) {
        const bool can_after = hi + 1 < n && used + segments[hi + 1].tokens <= budget_tokens;
        const bool can_before = lo > 0 && used + segments[lo - 1].tokens <= budget_tokens;
        if (!can_after && !can_before) break;
        if ((after && can_after) || !can_before)
            used += segments[++hi].tokens;
        else
            used += segments[--lo].tokens;
    }
    std::vector<int> out;
    for (int i = lo; i <= hi; ++i) out.push_back(segments[i].ordinal);
    return out;
}

}  // namespace docket::cli::eval
