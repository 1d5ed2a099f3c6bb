#pragma once
// Text rules of the engine that front ends also need, so that they keep one copy.
#include <string>
#include <string_view>

namespace docket {

// The text with every full calendar date the engine reads (for archive comparisons) rewritten as YYYY-MM-DD:
// "January 21, 2003", "21st day of January 2003" and "1/21/03" become "2003-01-21". Dates without a day, and
// impossible ones, stay as written. Used to score answers (`docket-cli eval`).
std::string canonical_dates(std::string_view text);

}  // namespace docket
