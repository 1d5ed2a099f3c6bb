// The code side of archive questions (engine/query/archive_question.h), without a model: the question's kind
// from its English form, the per-document question, the names and cues a match must be grounded on, the
// verdict read from an answer, and dates parsed and compared.
#include <QtTest>

#include "query/archive_question.h"

using namespace docket::query;

Q_DECLARE_METATYPE(ArchiveKind)

namespace {

bool same(const std::optional<Date>& d, int y, int m, int day) {
    return d && d->year == y && d->month == m && d->day == day;
}

}  // namespace

class TestArchiveQuestion : public QObject {
    Q_OBJECT
private slots:
    void kind_is_read_from_the_question_form() {
        QFETCH(QString, question);
        QFETCH(ArchiveKind, kind);
        QCOMPARE(archive_kind_name(read_archive_question(question.toStdString()).kind),
                 archive_kind_name(kind));
    }
    void kind_is_read_from_the_question_form_data() {
        QTest::addColumn<QString>("question");
        QTest::addColumn<ArchiveKind>("kind");
        QTest::newRow("which") << "Which contracts are governed by Delaware law?" << ArchiveKind::list;
        QTest::newRow("list") << "List the agreements that mention Hamburg." << ArchiveKind::list;
        QTest::newRow("how many") << "How many agreements were signed in 2019?" << ArchiveKind::count;
        QTest::newRow("number of") << "What is the number of leases with a renewal option?"
                                   << ArchiveKind::count;
        QTest::newRow("earlier, A or B")
            << "Which was signed earlier, the Supply Agreement or the Consulting "
               "Agreement?"
            << ArchiveKind::compare;
        QTest::newRow("which of A or B")
            << "Which of the Supply Agreement or the Lease was signed first?" << ArchiveKind::compare;
        QTest::newRow("more recent") << "Which agreement is more recent: the Lease, or the License?"
                                     << ArchiveKind::compare;
        // A comparative inside a name, or no two names: not a comparison.
        QTest::newRow("first in a name")
            << "Which agreements amend the First Amendment?" << ArchiveKind::list;
        QTest::newRow("earlier, no names") << "Which contracts were signed earlier?" << ArchiveKind::list;
        QTest::newRow("or, no comparative")
            << "Which contracts can be assigned or transferred?" << ArchiveKind::list;
    }

    void condition_becomes_a_question_about_this_document() {
        QFETCH(QString, question);
        QFETCH(QString, asked);
        QCOMPARE(QString::fromStdString(read_condition(question.toStdString()).question), asked);
    }
    void condition_becomes_a_question_about_this_document_data() {
        QTest::addColumn<QString>("question");
        QTest::addColumn<QString>("asked");
        QTest::newRow("are, qualifier, trailing sentence")
            << "Which agreements in the archive are governed by the laws of New York? List their titles and "
               "parties."
            << "Is this document governed by the laws of New York?";
        QTest::newRow("how many were") << "How many agreements were signed in 2019?"
                                       << "Was this document signed in 2019?";
        QTest::newRow("have") << "Which contracts have a non-compete clause?"
                              << "Does this document have a non-compete clause?";
        QTest::newRow("plural verb") << "Which contracts mention Hamburg?"
                                     << "Does this document mention Hamburg?";
        QTest::newRow("singular verb") << "Which lease requires a deposit?"
                                       << "Does this document require a deposit?";
        QTest::newRow("relative pronoun") << "List the contracts that can be terminated for convenience."
                                          << "Can this document be terminated for convenience?";
        QTest::newRow("unrecognized") << "Anything about Texas?"
                                      << "Does this document answer the question \"Anything about Texas?\"?";
    }

    void names_and_cues_come_from_the_predicate() {
        const ArchiveQuestion q =
            read_archive_question("Which agreements in the archive are governed by the laws of New York?");
        QCOMPARE(q.terms, std::vector<std::string>{"New York"});
        QCOMPARE(q.cues, (std::vector<std::string>{"governed", "laws"}));
        QVERIFY(q.map_question.starts_with("Is this document governed by the laws of New York?"));
        QCOMPARE(named_terms("governed by the laws of People's Republic of China"),
                 (std::vector<std::string>{"People's Republic", "China"}));
        QCOMPARE(named_terms("signed in 2019 in Paris, Texas or Boston"),
                 (std::vector<std::string>{"2019", "Paris", "Texas", "Boston"}));
        QVERIFY(named_terms("governed by the laws of ").empty());
    }

    void grounding_needs_each_name_near_a_cue() {
        const std::vector<std::string> terms{"New York"}, cues{"governed", "laws"};
        QVERIFY(grounded(terms, cues,
                         "5.5 Governing Law. This Agreement shall be governed by, and construed "
                         "in accordance with, the laws of the State of\n  NEW   YORK."));
        // A notice address in New York, far from any cue, grounds nothing.
        const std::string address = "Notices: 1 Main Street, New York, NY 10001. " + std::string(400, 'x') +
                                    " This Agreement is governed by the laws of Delaware.";
        QVERIFY(!grounded(terms, cues, address));
        QVERIFY(!grounded(terms, cues, "governed by the laws of California"));
        QVERIFY(grounded({}, cues, "anything"));                // no names: the verdict alone decides
        QVERIFY(grounded(terms, {}, "an office in New York"));  // no cues: the name anywhere
    }

    void verdicts_read_yes_no_and_echoes() {
        QVERIFY(read_verdict("Yes. \"governed by the laws of the State of New York\""));
        QVERIFY(read_verdict("  yes, it is"));
        QVERIFY(read_verdict("This document is governed by the laws of New York."));  // an echo states it
        QVERIFY(!read_verdict("No, it is governed by California law."));
        QVERIFY(!read_verdict("Not found in the documents."));
        QVERIFY(!read_verdict("None."));
        QVERIFY(!read_verdict("The document is not governed by New York law. Yes, Delaware."));
        QVERIFY(!read_verdict("It doesn't say."));
        QVERIFY(!read_verdict(""));
        QVERIFY(!read_verdict("..."));
    }

    void comparison_reads_the_names_the_direction_and_the_event() {
        const ArchiveQuestion q = read_archive_question(
            "Which was entered into earlier: the Non-Exclusive Distributor Agreement between iMine "
            "Corporation "
            "and SUNWAI Technology, or the Transfer And Servicing Agreement between VERIZON OWNER TRUST and "
            "VERIZON ABS LLC?");
        QCOMPARE(q.kind, ArchiveKind::compare);
        QCOMPARE(
            q.named,
            (std::vector<std::string>{
                "the Non-Exclusive Distributor Agreement between iMine Corporation and SUNWAI Technology",
                "the Transfer And Servicing Agreement between VERIZON OWNER TRUST and VERIZON ABS LLC"}));
        QVERIFY(q.earlier);
        QCOMPARE(q.event, std::string("entered into"));
        QCOMPARE(q.search, std::string("On what date was this document entered into?"));

        const ArchiveQuestion later =
            read_archive_question("Which of the two, the Lease or the License, was signed more recently?");
        QCOMPARE(later.kind, ArchiveKind::list);  // "recently" is no comparative of this reader
        const ArchiveQuestion newest =
            read_archive_question("Which of the two, either the Lease or the License, was signed last?");
        QCOMPARE(newest.kind, ArchiveKind::compare);
        QVERIFY(!newest.earlier);
        QCOMPARE(newest.named, (std::vector<std::string>{"the Lease", "the License"}));
        QCOMPARE(newest.event, std::string("signed"));
        const ArchiveQuestion expires =
            read_archive_question("Which agreement expires first, the Lease or the License?");
        QCOMPARE(expires.kind, ArchiveKind::compare);
        QCOMPARE(expires.search, std::string("On what date does this document expire?"));
    }

    void dates_are_parsed_in_the_forms_contracts_write() {
        QVERIFY(same(parse_date("dated June 1, 2020, effective as of July 1, 2020"), 2020, 6, 1));
        QVERIFY(same(parse_date("made this 14th day of March, 2016 (\"Effective Date\")"), 2016, 3, 14));
        QVERIFY(same(parse_date("THIS AGREEMENT is dated May 3,2006."), 2006, 5, 3));
        QVERIFY(same(parse_date("dated as of 09/24/2018 (the \"Effective Date\")"), 2018, 9, 24));
        QVERIFY(same(parse_date("on 24/09/2018"), 2018, 9, 24));  // day first when the first number is > 12
        QVERIFY(same(parse_date("signed 7/19/18"), 2018, 7, 19));
        QVERIFY(same(parse_date("signed 1/29/97"), 1997, 1, 29));
        QVERIFY(same(parse_date("filed 2020-01-16"), 2020, 1, 16));
        QVERIFY(same(parse_date("1st June 2020"), 2020, 6, 1));
        QVERIFY(same(parse_date("Sept. 5, 1999"), 1999, 9, 5));
        QVERIFY(same(parse_date("in March 2016"), 2016, 3, 0));
        QVERIFY(same(parse_date("sometime in 1998, it seems"), 1998, 0, 0));
        QVERIFY(same(parse_date("February 29, 2019 or March 2, 2019"), 2019, 3, 2));  // no Feb 29 in 2019
        QVERIFY(same(parse_date("February 29, 2020"), 2020, 2, 29));
        QVERIFY(!parse_date("Not found in the documents."));
        QVERIFY(!parse_date("Section 5.10 and 12 months"));
        QCOMPARE(format_date(*parse_date("14th day of March, 2016")), std::string("March 14, 2016"));
        QCOMPARE(format_date(Date{2016, 3, 0}), std::string("March 2016"));
    }

    void dates_compare_at_the_precision_both_state() {
        QCOMPARE(compare_dates({2015, 6, 2}, {2018, 12, 19}), -1);
        QCOMPARE(compare_dates({2018, 12, 19}, {2018, 12, 1}), 1);
        QCOMPARE(compare_dates({2018, 3, 0}, {2018, 3, 30}), 0);  // the month is all both state
        QCOMPARE(compare_dates({2018, 0, 0}, {2019, 1, 1}), -1);
        QCOMPARE(compare_dates({2018, 0, 0}, {2018, 5, 1}), 0);
    }
};

QTEST_GUILESS_MAIN(TestArchiveQuestion)
#include "test_archive_question.moc"
