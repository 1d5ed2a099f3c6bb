#pragma once
// The text side of questions about a whole archive (query/archive.h maps them over the documents): what kind
// of question it is, read from its form in plain English; the per-document question the model is asked; how
// its answer is read (a verdict, a date); and how dates compare. No model and no store here, so each rule can
// be tested on its own.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace docket::query {

enum class ArchiveKind {
    list,     // "Which contracts are governed by Delaware law?": the documents that satisfy it
    count,    // "How many agreements ...?": how many satisfy it, and which
    compare,  // "Which was signed earlier, A or B?": the named documents' dates, compared in code
};
const char* archive_kind_name(ArchiveKind k);

struct ArchiveQuestion {
    ArchiveKind kind = ArchiveKind::list;
    // The question asked of each document: list and count, whether it satisfies the condition; compare, the
    // date the compared event happened.
    std::string map_question;
    // What retrieval ranks each document's segments by: the map question without its answer instructions.
    std::string search;
    // list, count: the names the condition turns on ("New York" in "governed by the laws of New York") and
    // its other content words ("governed", "laws"): a document satisfies it only when the passages its answer
    // rests on name each term near a cue (see grounded()).
    std::vector<std::string> terms, cues;
    // compare: the documents the question names (as written), whether the earlier one is wanted, and the
    // event compared ("signed", "entered into"; "" when the question names none).
    std::vector<std::string> named;
    bool earlier = true;
    std::string event;
};

// Reads the question's kind and derives the per-document question. Counting: "how many ..." or "(what is)
// the number of ...". Comparing: "which ..." with a comparative of time (earlier, later, first, older, more
// recent ...) and two named documents joined by "or". Anything else is a list question.
ArchiveQuestion read_archive_question(const std::string& question);

struct Condition {
    std::string question;   // "Is this document governed by the laws of New York?"
    std::string predicate;  // "governed by the laws of New York"; "" when the form was not recognized
};
// The per-document yes/no question for a condition: "Which agreements in the archive are governed by the laws
// of New York? List their titles." -> "Is this document governed by the laws of New York?". Falls back to
// asking whether the document answers the question when its form is not recognized.
Condition read_condition(const std::string& question);

// Runs of capitalized words and numbers in a predicate: the names it turns on ("New York", "People's
// Republic", "China", "2019").
std::vector<std::string> named_terms(const std::string& predicate);
// The predicate's other content words, lowercase ("governed", "laws"; not "the", "of", "by").
std::vector<std::string> cue_words(const std::string& predicate);
// Whether the text names every term with one of the cues within kCueWindow bytes of it (ASCII case and runs
// of whitespace ignored), so "the laws of the State of New York" grounds "governed by the laws of New York"
// and a notice address in New York does not. True with no terms; with no cues, a term anywhere counts.
inline constexpr size_t kCueWindow = 150;
bool grounded(const std::vector<std::string>& terms, const std::vector<std::string>& cues,
              std::string_view text);

// The model's answer to a per-document yes/no question read as a verdict: no when it begins with "no", "not"
// or "none" or its first sentence negates ("not", "n't", "no", "not found"); yes when it begins with "yes" or
// states the condition (a small model echoes the question as a statement rather than saying yes).
bool read_verdict(std::string_view answer);

struct Date {
    int year = 0, month = 0, day = 0;  // month/day 0: not stated (precision is the year or the month)
};
// The first calendar date written in the text: "June 1, 2020", "1st June 2020", "the 14th day of March,
// 2016", "09/24/2018" (month first unless the first number exceeds 12), "9/24/18", "2020-01-16", "March
// 2016", and as a last resort a bare year 1900-2099. nullopt when none; impossible dates are skipped.
std::optional<Date> parse_date(std::string_view text);
// -1 when a is earlier, 1 when later, 0 when the dates cannot be told apart at the precision both state.
int compare_dates(const Date& a, const Date& b);
// "June 1, 2020", "March 2016", "2016".
std::string format_date(const Date& d);
// The text with every full calendar date parse_date reads (day, month and year) rewritten as YYYY-MM-DD, so that
// "January 21, 2003", "21st day of January 2003" and "1/21/03" compare equal (answer scoring); dates without a
// day, and impossible ones, stay as written.
std::string canonical_dates(std::string_view text);

}  // namespace docket::query
