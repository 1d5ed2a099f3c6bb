#include "query/archive_question.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>

namespace docket::query {
namespace {

char lower_ch(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// ASCII lowercase: byte offsets stay those of the original.
std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = lower_ch(c);
    return out;
}

std::string trim(std::string_view s, std::string_view junk = " \t\r\n") {
    const size_t b = s.find_first_not_of(junk);
    if (b == std::string_view::npos) return {};
    return std::string(s.substr(b, s.find_last_not_of(junk) - b + 1));
}

bool starts_with_word(const std::string& low, std::string_view w) {
    return low.starts_with(w) &&
           (low.size() == w.size() || !std::isalnum(static_cast<unsigned char>(low[w.size()])));
}

std::vector<std::string> split_words(std::string_view s) {
    std::vector<std::string> out;
    std::istringstream in{std::string(s)};
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

std::string join(const std::vector<std::string>& w, size_t from, size_t to) {
    std::string out;
    for (size_t i = from; i < to && i < w.size(); ++i) out += (out.empty() ? "" : " ") + w[i];
    return out;
}

// A word as matched against the tables below: lowercase, outer punctuation gone.
std::string bare(std::string_view w) {
    return lower(trim(w, " \t\r\n,.;:!?\"'()"));
}

std::string fold_spaces(std::string_view s) {
    std::string out;
    for (const std::string& w : split_words(s)) out += (out.empty() ? "" : " ") + w;
    return out;
}

// --- comparison questions ---------------------------------------------------------------------------------

struct Comparative {
    const char* word;
    bool earlier;
};
constexpr std::array<Comparative, 14> kComparatives = {{{"more recent", false},
                                                        {"most recent", false},
                                                        {"earlier", true},
                                                        {"earliest", true},
                                                        {"first", true},
                                                        {"sooner", true},
                                                        {"older", true},
                                                        {"oldest", true},
                                                        {"before", true},
                                                        {"later", false},
                                                        {"latest", false},
                                                        {"last", false},
                                                        {"newer", false},
                                                        {"newest", false}}};

// A comparative that ends a clause (followed by ':', ',', ';', '?', a dash or the end), so a word inside a
// document's name ("First Amendment to ...") is not taken for it. Returns its position and length.
std::optional<std::pair<size_t, size_t>> find_comparative(const std::string& low, bool* earlier) {
    std::optional<std::pair<size_t, size_t>> best;
    for (const Comparative& c : kComparatives) {
        const std::string_view w = c.word;
        for (size_t at = low.find(w); at != std::string::npos; at = low.find(w, at + 1)) {
            const bool word_start = at == 0 || !std::isalnum(static_cast<unsigned char>(low[at - 1]));
            const size_t end = at + w.size();
            size_t next = low.find_first_not_of(' ', end);
            const bool clause_end = next == std::string::npos ||
                                    std::string_view(":,;?-").find(low[next]) != std::string_view::npos;
            if (!word_start || (end < low.size() && std::isalnum(static_cast<unsigned char>(low[end]))) ||
                !clause_end)
                continue;
            if (!best || at < best->first) {
                best = std::make_pair(at, w.size());
                *earlier = c.earlier;
            }
            break;
        }
    }
    return best;
}

// "A, or B" -> {A, B}, split at the last " or ".
std::vector<std::string> split_alternatives(const std::string& text) {
    const std::string low = lower(text);
    const size_t at = low.rfind(" or ");
    if (at == std::string::npos) return {};
    std::string a = trim(text.substr(0, at), " \t\r\n,;:?"), b = trim(text.substr(at + 4), " \t\r\n,;:?.");
    if (starts_with_word(lower(a), "either")) a = trim(a.substr(6));
    if (a.empty() || b.empty()) return {};
    return {a, b};
}

const std::map<std::string, std::string>& singular_aux() {
    static const std::map<std::string, std::string> m = {
        {"are", "Is"},        {"is", "Is"},     {"were", "Was"},    {"was", "Was"},   {"can", "Can"},
        {"could", "Could"},   {"may", "May"},   {"might", "Might"}, {"must", "Must"}, {"shall", "Shall"},
        {"should", "Should"}, {"will", "Will"}, {"would", "Would"}};
    return m;
}

// A plain verb in its base form: "expires" -> "expire" (a singular subject's verb), "mention" stays.
std::string base_verb(const std::string& w) {
    const std::string b = bare(w);
    if (b.size() > 3 && b.ends_with('s') && !b.ends_with("ss")) return b.substr(0, b.size() - 1);
    return b;
}

// The words between the question word and the comparative: "agreement was entered into" -> the event
// "entered into" and the date question built on it.
std::string date_question(const std::vector<std::string>& words, std::string* event) {
    size_t aux = words.size();
    for (size_t i = 0; i < words.size(); ++i)
        if (const std::string b = bare(words[i]); b == "was" || b == "were" || b == "is" || b == "are") {
            aux = i;
            break;
        }
    if (aux < words.size() && aux + 1 < words.size()) {
        *event = join(words, aux + 1, words.size());
        return fmt::format("On what date was this document {}?", *event);
    }
    if (aux == words.size() && !words.empty()) {
        // No auxiliary: "which (agreement) expires first" -> the verb is the last word before the
        // comparative.
        *event = base_verb(words.back());
        return fmt::format("On what date does this document {}?", *event);
    }
    event->clear();
    return "On what date was this document signed?";
}

std::optional<ArchiveQuestion> read_comparison(const std::string& question) {
    const std::string q = trim(question);
    const std::string low = lower(q);
    if (!starts_with_word(low, "which")) return std::nullopt;
    ArchiveQuestion out;
    out.kind = ArchiveKind::compare;
    const auto comp = find_comparative(low, &out.earlier);
    if (!comp) return std::nullopt;
    const size_t after = comp->first + comp->second;
    std::string names = trim(q.substr(after), " \t\r\n:,;?-");
    std::string lead = q.substr(5, comp->first - 5);  // between "which" and the comparative
    if (names.empty()) {
        // "Which of A or B was signed earlier?": the names run from "of" to the last auxiliary.
        const std::string ll = lower(lead);
        if (!starts_with_word(lower(trim(ll)), "of")) return std::nullopt;
        size_t aux = std::string::npos;
        for (const char* a : {" was ", " were ", " is ", " are "})
            if (const size_t at = ll.rfind(a);
                at != std::string::npos && (aux == std::string::npos || at > aux))
                aux = at;
        if (aux == std::string::npos) return std::nullopt;
        names = trim(trim(lead.substr(0, aux)).substr(2));
        if (starts_with_word(lower(names), "the two")) names = trim(names.substr(7), " :,");
        lead = lead.substr(aux);
    }
    out.named = split_alternatives(names);
    if (out.named.size() != 2) return std::nullopt;
    out.search = date_question(split_words(lead), &out.event);
    out.map_question = out.search + " Answer with the date.";
    return out;
}

// --- list and count questions -----------------------------------------------------------------------------

bool is_count(const std::string& low) {
    if (starts_with_word(low, "how many") || starts_with_word(low, "count")) return true;
    const size_t at = low.find("number of ");
    return at != std::string::npos && at < 24;  // "what is the number of ...", "the number of ..."
}

// Index of the first word after the question's lead ("how many", "which", "list all the", "are there any").
size_t skip_lead(const std::vector<std::string>& w) {
    size_t i = 0;
    auto is = [&](size_t k, std::initializer_list<const char*> set) {
        if (k >= w.size()) return false;
        const std::string b = bare(w[k]);
        return std::any_of(set.begin(), set.end(), [&](const char* s) { return b == s; });
    };
    if (is(0, {"how"}) && is(1, {"many"}))
        i = 2;
    else if (is(0, {"which", "what"}))
        i = 1;
    else if (is(0, {"list", "name", "show", "find", "identify", "give", "count"}))
        i = 1;
    else if (is(0, {"are", "is"}) && is(1, {"there"}))
        i = 2;
    for (;;) {
        if (is(i, {"is", "are"}) && is(i + 1, {"the"}) && is(i + 2, {"number"})) i += 2;
        if (is(i, {"number"}) && is(i + 1, {"of"}))
            i += 2;
        else if (is(i, {"me", "all", "of", "the", "every", "any", "these", "those", "each"}))
            ++i;
        else
            break;
    }
    return i;
}

}  // namespace

const char* archive_kind_name(ArchiveKind k) {
    return k == ArchiveKind::list ? "list" : k == ArchiveKind::count ? "count" : "compare";
}

Condition read_condition(const std::string& question) {
    const std::string q = trim(question);
    const size_t end = q.find('?');
    const std::vector<std::string> w = split_words(end == std::string::npos ? q : q.substr(0, end));
    const Condition fallback{fmt::format("Does this document answer the question \"{}\"?", q), ""};
    size_t i = skip_lead(w);
    if (i + 2 > w.size()) return fallback;
    const std::string subject = bare(w[i++]);  // "agreements", "contracts", "documents"
    // Qualifiers of the subject: "in the archive", "of this collection"; a relative pronoun ("that",
    // "which").
    while (i + 2 < w.size()) {
        const std::string b = bare(w[i]);
        if ((b == "in" || b == "of" || b == "from" || b == "within") &&
            (bare(w[i + 1]) == "the" || bare(w[i + 1]) == "this" || bare(w[i + 1]) == "our"))
            i += 3;
        else if (b == "that" || b == "which" || b == "who" || b == "whose")
            ++i;
        else
            break;
    }
    if (i + 1 > w.size()) return fallback;
    const std::string verb = bare(w[i]);
    const std::string rest = trim(join(w, i + 1, w.size()), " \t\r\n.!;:,");
    // "Anything about Texas?": a preposition where the verb should be is no condition this reader knows.
    static const std::set<std::string> prepositions = {"about",     "in",         "of", "on", "with",
                                                       "for",       "from",       "by", "at", "under",
                                                       "regarding", "concerning", "to"};
    if (prepositions.count(verb)) return fallback;
    auto asked = [&](const std::string& lead, const std::string& predicate) {
        return Condition{fmt::format("{} this document {}?", lead, predicate), predicate};
    };
    const auto aux = singular_aux().find(verb);
    if (aux != singular_aux().end() && !rest.empty()) return asked(aux->second, rest);
    if ((verb == "have" || verb == "has") && !rest.empty()) return asked("Does", "have " + rest);
    if (verb == "had" && !rest.empty()) return asked("Did", "have " + rest);
    if ((verb == "do" || verb == "does") && !rest.empty()) return asked("Does", rest);
    if (verb == "did" && !rest.empty()) return asked("Did", rest);
    if (verb.empty() || !std::isalpha(static_cast<unsigned char>(verb[0]))) return fallback;
    // A plain verb agrees with the subject: plural "mention" is the base form, singular "mentions" is not.
    const std::string base = subject.ends_with('s') ? verb : base_verb(verb);
    return asked("Does", rest.empty() ? base : base + " " + rest);
}

std::vector<std::string> named_terms(const std::string& predicate) {
    std::vector<std::string> out;
    std::string run;
    for (const std::string& word : split_words(predicate)) {
        const std::string w = trim(word, " \t\r\n,.;:!?\"()");
        const unsigned char c = w.empty() ? 0 : static_cast<unsigned char>(w[0]);
        if (std::isupper(c) || std::isdigit(c)) {
            run += (run.empty() ? "" : " ") + w;
        } else if (!run.empty()) {
            out.push_back(std::move(run));
            run.clear();
        }
        // A word that ends in punctuation ends the run ("New York, Texas").
        if (!run.empty() && w.size() != word.size() &&
            std::string_view(",;:").find(word.back()) != std::string_view::npos) {
            out.push_back(std::move(run));
            run.clear();
        }
    }
    if (!run.empty()) out.push_back(std::move(run));
    return out;
}

std::vector<std::string> cue_words(const std::string& predicate) {
    static const std::set<std::string> minor = {
        "the", "of", "by",   "in", "to",  "a",   "an",  "and",  "or",   "for", "with",  "on",    "at",
        "as",  "be", "been", "is", "are", "any", "all", "this", "that", "its", "their", "under", "from"};
    std::vector<std::string> out;
    for (const std::string& word : split_words(predicate)) {
        const std::string w = trim(word, " \t\r\n,.;:!?\"()");
        if (w.size() < 3 || !std::islower(static_cast<unsigned char>(w[0])) || minor.count(w)) continue;
        if (std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
    }
    return out;
}

bool grounded(const std::vector<std::string>& terms, const std::vector<std::string>& cues,
              std::string_view text) {
    const std::string t = lower(fold_spaces(text));
    auto cue_near = [&](size_t at, size_t len) {
        const size_t from = at > kCueWindow ? at - kCueWindow : 0;
        const std::string_view window = std::string_view(t).substr(from, at - from + len + kCueWindow);
        return cues.empty() || std::any_of(cues.begin(), cues.end(), [&](const std::string& c) {
                   return window.find(c) != std::string_view::npos;
               });
    };
    return std::all_of(terms.begin(), terms.end(), [&](const std::string& term) {
        const std::string f = lower(fold_spaces(term));
        for (size_t at = t.find(f); at != std::string::npos; at = t.find(f, at + 1))
            if (cue_near(at, f.size())) return true;
        return false;
    });
}

ArchiveQuestion read_archive_question(const std::string& question) {
    if (auto c = read_comparison(question)) return *c;
    ArchiveQuestion out;
    out.kind = is_count(lower(trim(question))) ? ArchiveKind::count : ArchiveKind::list;
    const Condition c = read_condition(question);
    out.search = c.question;
    out.terms = named_terms(c.predicate);
    out.cues = cue_words(c.predicate);
    out.map_question = c.question + " Answer yes or no, then quote the words that decide it.";
    return out;
}

bool read_verdict(std::string_view answer) {
    const std::string low = lower(answer);
    const size_t b = low.find_first_of("abcdefghijklmnopqrstuvwxyz");
    if (b == std::string::npos) return false;
    const std::string s = low.substr(b);
    if (starts_with_word(s, "yes")) return true;
    if (starts_with_word(s, "no") || starts_with_word(s, "not") || starts_with_word(s, "none")) return false;
    static const std::regex negation(R"(\b(not|no|none|never)\b|n't\b)");
    return !std::regex_search(s.substr(0, s.find_first_of(".\n")), negation);
}

// --- dates ------------------------------------------------------------------------------------------------

namespace {

int month_number(std::string_view name) {
    static const std::array<const char*, 12> months = {"jan", "feb", "mar", "apr", "may", "jun",
                                                       "jul", "aug", "sep", "oct", "nov", "dec"};
    const std::string l = lower(name);
    for (size_t i = 0; i < months.size(); ++i)
        if (l.starts_with(months[i])) return static_cast<int>(i) + 1;
    return 0;
}

bool valid(const Date& d) {
    static const std::array<int, 12> days = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (d.year < 1800 || d.year > 2200 || d.month < 0 || d.month > 12 || d.day < 0) return false;
    if (d.day > 0 && (d.month == 0 || d.day > days[d.month - 1])) return false;
    const bool leap = (d.year % 4 == 0 && d.year % 100 != 0) || d.year % 400 == 0;
    return !(d.month == 2 && d.day == 29 && !leap);
}

int full_year(const std::string& y) {
    const int v = std::stoi(y);
    if (y.size() == 4) return v;
    return v < 50 ? 2000 + v : 1900 + v;  // two digits: contracts of 1950-2049
}

const char* kMonth =
    "(january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)";

struct Pattern {
    std::regex re;
    Date (*read)(const std::smatch&);
};

const std::vector<Pattern>& patterns() {
    using std::regex;
    const auto icase = regex::icase | regex::ECMAScript;
    static const std::vector<Pattern> p = {
        {regex(R"(\b(\d{4})-(\d{1,2})-(\d{1,2})\b)", icase),
         [](const std::smatch& m) {
             return Date{std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3])};
         }},
        {regex(R"(\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})\b)", icase),
         [](const std::smatch& m) {
             int a = std::stoi(m[1]), b = std::stoi(m[2]);
             if (a > 12 && b <= 12) std::swap(a, b);  // day first, as in 24/09/2018
             return Date{full_year(m[3]), a, b};
         }},
        {regex(std::string(R"(\b)") + kMonth + R"(\.?\s+(\d{1,2})(?:st|nd|rd|th)?\s*,?\s*(\d{4})\b)", icase),
         [](const std::smatch& m) {
             return Date{std::stoi(m[3]), month_number(m[1].str()), std::stoi(m[2])};
         }},
        {regex(std::string(R"(\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:day\s+of\s+)?)") + kMonth +
                   R"(\.?\s*,?\s*(\d{4})\b)",
               icase),
         [](const std::smatch& m) {
             return Date{std::stoi(m[3]), month_number(m[2].str()), std::stoi(m[1])};
         }},
        {regex(std::string(R"(\b)") + kMonth + R"(\.?\s*,?\s+(\d{4})\b)", icase),
         [](const std::smatch& m) {
             return Date{std::stoi(m[2]), month_number(m[1].str()), 0};
         }},
    };
    return p;
}

}  // namespace

std::optional<Date> parse_date(std::string_view text) {
    const std::string s(text.substr(0, 4096));  // answers and quotes are short; bound the regex work
    std::optional<Date> best;
    long best_at = -1;
    for (const Pattern& p : patterns()) {
        for (auto it = std::sregex_iterator(s.begin(), s.end(), p.re); it != std::sregex_iterator(); ++it) {
            const Date d = p.read(*it);
            if (!valid(d)) continue;
            // The earliest date in the text wins; at the same place, the first (most precise) pattern.
            if (best_at < 0 || it->position() < best_at) {
                best = d;
                best_at = it->position();
            }
            break;
        }
    }
    if (best) return best;
    static const std::regex year(R"(\b(19\d{2}|20\d{2})\b)");
    std::smatch m;
    if (std::regex_search(s, m, year)) return Date{std::stoi(m[1]), 0, 0};
    return std::nullopt;
}

std::string canonical_dates(std::string_view text) {
    const std::string s(text);
    struct Hit {
        size_t at, len;
        Date d;
    };
    std::vector<Hit> hits;
    for (const Pattern& p : patterns())
        for (auto it = std::sregex_iterator(s.begin(), s.end(), p.re); it != std::sregex_iterator(); ++it)
            if (const Date d = p.read(*it); d.day > 0 && valid(d))
                hits.push_back({static_cast<size_t>(it->position()), static_cast<size_t>(it->length()), d});
    // Earliest first; at one place the longest (the most of the date).
    std::sort(hits.begin(), hits.end(),
              [](const Hit& a, const Hit& b) { return a.at != b.at ? a.at < b.at : a.len > b.len; });
    std::string out;
    size_t done = 0;
    for (const Hit& h : hits) {
        if (h.at < done) continue;  // inside a date already rewritten
        out.append(s, done, h.at - done);
        out += fmt::format("{:04d}-{:02d}-{:02d}", h.d.year, h.d.month, h.d.day);
        done = h.at + h.len;
    }
    out.append(s, done, std::string::npos);
    return out;
}

int compare_dates(const Date& a, const Date& b) {
    auto cmp = [](int x, int y) { return x < y ? -1 : x > y ? 1 : 0; };
    if (int c = cmp(a.year, b.year)) return c;
    if (a.month == 0 || b.month == 0) return 0;
    if (int c = cmp(a.month, b.month)) return c;
    if (a.day == 0 || b.day == 0) return 0;
    return cmp(a.day, b.day);
}

std::string format_date(const Date& d) {
    static const std::array<const char*, 12> names = {"January",   "February", "March",    "April",
                                                      "May",       "June",     "July",     "August",
                                                      "September", "October",  "November", "December"};
    if (d.month == 0) return std::to_string(d.year);
    if (d.day == 0) return fmt::format("{} {}", names[d.month - 1], d.year);
    return fmt::format("{} {}, {}", names[d.month - 1], d.day, d.year);
}

}  // namespace docket::query
