#include "api/text.h"

#include "query/archive_question.h"

namespace docket {

std::string canonical_dates(std::string_view text) {
    return query::canonical_dates(text);
}

}  // namespace docket
