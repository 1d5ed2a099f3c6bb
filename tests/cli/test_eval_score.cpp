// docket-cli eval's scoring without the engine: QA lines, answer normalization, containment, token F1, set
// F1, evidence location (character offsets into UTF-8, the annotation's quirks) and the oracle context's
// choice.
#include <QtTest>

#include "api/text.h"
#include "eval_score.h"

using namespace docket::cli::eval;
using docket::canonical_dates;

class TestEvalScore : public QObject {
    Q_OBJECT
private slots:
    void qa_line_parses_every_field() {
        auto q = parse_qa_line(
            R"({"id":"x1","scope":"single_doc","qtype":"governing_law","question":"Which law?","answers":["Texas"],)"
            R"("answer_verbatim":"TEXAS","doc_ids":["Doc A"],"evidence_offset":12,"evidence":"laws of Texas"})",
            1);
        QVERIFY2(q.is_ok(), q.status().message().c_str());
        QCOMPARE(q->id, std::string("x1"));
        QCOMPARE(q->answers, (std::vector<std::string>{"Texas", "TEXAS"}));
        QCOMPARE(q->doc_ids, std::vector<std::string>{"Doc A"});
        QCOMPARE(*q->evidence_offset, int64_t{12});
        QCOMPARE(q->evidence, std::string("laws of Texas"));
        auto bare = parse_qa_line(
            R"({"id":"x","scope":"s","qtype":"t","question":"q","answers":[],"doc_ids":[]})", 2);
        QVERIFY(bare.is_ok());
        QVERIFY(!bare->evidence_offset);
        QVERIFY(bare->evidence.empty());
    }

    void malformed_qa_lines_name_the_line_and_the_problem() {
        QFETCH(QString, line);
        QFETCH(QString, want);
        auto q = parse_qa_line(line.toStdString(), 7);
        QVERIFY(!q.is_ok());
        const QString msg = QString::fromStdString(q.status().message());
        QVERIFY2(msg.startsWith("line 7: "), qPrintable(msg));
        QVERIFY2(msg.contains(want), qPrintable(msg));
    }
    void malformed_qa_lines_name_the_line_and_the_problem_data() {
        QTest::addColumn<QString>("line");
        QTest::addColumn<QString>("want");
        const QString ok_tail = R"("qtype":"t","question":"q","answers":["a"],"doc_ids":["d"])";
        QTest::newRow("truncated") << R"({"id":"x","scope":)"
                                   << "not valid JSON";
        QTest::newRow("array") << "[1,2]"
                               << "not a JSON object";
        QTest::newRow("id number") << R"({"id":3,"scope":"s",)" + ok_tail + "}"
                                   << "'id' must be a string";
        QTest::newRow("no question") << R"({"id":"x","scope":"s","qtype":"t","answers":[],"doc_ids":[]})"
                                     << "'question' must be a string";
        QTest::newRow("answers string")
            << R"({"id":"x","scope":"s","qtype":"t","question":"q","answers":"a","doc_ids":[]})"
            << "'answers' must be an array of strings";
        QTest::newRow("doc_ids mixed")
            << R"({"id":"x","scope":"s","qtype":"t","question":"q","answers":[],"doc_ids":["a",1]})"
            << "'doc_ids' must be an array of strings";
        QTest::newRow("offset text") << R"({"id":"x","scope":"s",)" + ok_tail + R"(,"evidence_offset":"12"})"
                                     << "'evidence_offset' must be an integer";
        QTest::newRow("offset float") << R"({"id":"x","scope":"s",)" + ok_tail + R"(,"evidence_offset":1.5})"
                                      << "'evidence_offset' must be an integer";
        QTest::newRow("evidence list") << R"({"id":"x","scope":"s",)" + ok_tail + R"(,"evidence":["a"]})"
                                       << "'evidence' must be a string";
    }

    void normalization_is_squad_style() {
        QCOMPARE(normalize_answer("The  State of\tNEW YORK."), std::string("state of new york"));
        QCOMPARE(normalize_answer("U.S.A."), std::string("usa"));  // punctuation deleted, not a break
        QCOMPARE(normalize_answer("an apple, a pear"), std::string("apple pear"));  // articles only as words
        QCOMPARE(normalize_answer("Theater anatomy"), std::string("theater anatomy"));
        QCOMPARE(normalize_answer("  ...  "), std::string());
        QCOMPARE(normalize_answer("Zürich AG"),
                 std::string("zürich ag"));  // non-ASCII bytes kept as they are
    }

    void dates_written_differently_compare_equal() {
        QCOMPARE(canonical_dates("entered into on January 21, 2003."),
                 std::string("entered into on 2003-01-21."));
        QCOMPARE(canonical_dates("the 21st day of January 2003"), std::string("the 2003-01-21"));
        QCOMPARE(canonical_dates("1st day of April, 2018 ("), std::string("2018-04-01 ("));
        QCOMPARE(canonical_dates("21 Jan. 2003 and 1/21/03"), std::string("2003-01-21 and 2003-01-21"));
        QCOMPARE(canonical_dates("SEPTEMBER 10, 2015; 12/31/1999"), std::string("2015-09-10; 1999-12-31"));
        // Not dates: no year, a month or day out of range, a bare number.
        QCOMPARE(canonical_dates("may 12 be late"), std::string("may 12 be late"));
        QCOMPARE(canonical_dates("13/45/2003"), std::string("13/45/2003"));
        QCOMPARE(canonical_dates("section 2003"), std::string("section 2003"));
        QVERIFY(contains_answer("It was entered into on January 21, 2003.", {"21st day of January 2003"}));
        QVERIFY(contains_answer("signed 1/21/03", {"January 21, 2003"}));
        QVERIFY(
            !contains_answer("entered into on January 22, 2003", {"21st day of January 2003", "1/21/03"}));
        QCOMPARE(token_f1("January 21, 2003", "1/21/03"), 1.0);
    }

    void containment_is_of_whole_normalized_words() {
        QVERIFY(contains_answer("It is governed by the laws of the State of Texas.", {"Texas"}));
        QVERIFY(contains_answer("NEW YORK law applies", {"Delaware", "New York"}));
        QVERIFY(!contains_answer("Californian law", {"California"}));  // not a word of the prediction
        QVERIFY(!contains_answer("the laws of Texas", {}));
        QVERIFY(!contains_answer("anything",
                                 {"", "the", "..."}));  // an answer empty after normalizing never matches
        QVERIFY(!contains_answer("", {"Texas"}));
    }

    void token_f1_edge_cases() {
        QCOMPARE(token_f1("Texas", "Texas"), 1.0);
        QCOMPARE(token_f1("the State of Texas", "Texas"), 2 * (1.0 / 3) * 1.0 / (1.0 / 3 + 1.0));
        QCOMPARE(token_f1("", ""), 1.0);
        QCOMPARE(token_f1("Texas", ""), 0.0);
        QCOMPARE(token_f1("", "Texas"), 0.0);
        QCOMPARE(token_f1("Ohio", "Texas"), 0.0);
        // Repeated words count once per occurrence in the gold answer.
        QCOMPARE(token_f1("new new new", "new york"), 2 * (1.0 / 3) * 0.5 / (1.0 / 3 + 0.5));
        QCOMPARE(best_token_f1("New York", {"Delaware", "State of New York", "New York"}), 1.0);
        QCOMPARE(best_token_f1("New York", {}), 0.0);
    }

    void set_f1_for_list_questions() {
        QCOMPARE(set_f1({"a", "b"}, {"a", "b"}), 1.0);
        QCOMPARE(set_f1({"a", "b", "c", "d"}, {"a", "b"}), 2 * 0.5 * 1.0 / 1.5);
        QCOMPARE(set_f1({"x"}, {"a"}), 0.0);
        QCOMPARE(set_f1({}, {}), 1.0);
        QCOMPARE(set_f1({}, {"a"}), 0.0);
        QCOMPARE(set_f1({"a"}, {}), 0.0);
    }

    void character_offsets_become_byte_offsets() {
        const std::string t =
            "a\xC3\xA9"
            "b\xE2\x82\xAC"
            "c";  // a é b € c
        QCOMPARE(utf8_byte_offset(t, 0), int64_t{0});
        QCOMPARE(utf8_byte_offset(t, 2), int64_t{3});
        QCOMPARE(utf8_byte_offset(t, 4), int64_t{7});
        QCOMPARE(utf8_byte_offset(t, 5), int64_t{8});
        QCOMPARE(utf8_byte_offset(t, 99), int64_t{8});
    }

    void evidence_is_found_at_its_offset_or_by_its_text() {
        const std::string t = "Caf\xC3\xA9 terms. This Agreement is governed by the laws of TEXAS. End.";
        const int64_t at = static_cast<int64_t>(t.find("This"));
        // The offset counts characters: é is one, so the byte offset is one more.
        auto s = locate_evidence(t, at - 1, "This Agreement is governed by the laws of Texas.");
        QVERIFY(s);
        QCOMPARE(s->begin, at);
        QCOMPARE(s->end, at + 48);
        // A wrong offset: the text is searched.
        s = locate_evidence(t, 2, "governed by the laws");
        QVERIFY(s);
        QCOMPARE(s->begin, static_cast<int64_t>(t.find("governed")));
        // No offset, an omitted middle: from the first part to the end of the last.
        s = locate_evidence(t, std::nullopt, "This Agreement<omitted>of TEXAS.");
        QVERIFY(s);
        QCOMPARE(s->begin, at);
        QCOMPARE(s->end, static_cast<int64_t>(t.find(" End.")));
        QVERIFY(!locate_evidence(t, -1, "not in the text"));
        QVERIFY(!locate_evidence(t, 3, ""));
        QVERIFY(!locate_evidence(t, 10'000, "past the end"));
    }

    void oracle_context_grows_around_the_evidence_within_the_budget() {
        // Five segments of 100 tokens at bytes [0,10) [10,20) ... [40,50).
        std::vector<SegmentSpan> segs;
        for (int i = 0; i < 5; ++i) segs.push_back({i, i * 10, i * 10 + 10, 100});
        QCOMPARE(segments_holding(segs, {12, 25}), (std::vector<int>{1, 2}));
        QCOMPARE(segments_holding(segs, {10, 20}), std::vector<int>{1});  // the end is exclusive
        QCOMPARE(oracle_context(segs, {12, 25}, 200), (std::vector<int>{1, 2}));
        QCOMPARE(oracle_context(segs, {12, 25}, 300), (std::vector<int>{1, 2, 3}));  // after first
        QCOMPARE(oracle_context(segs, {12, 25}, 400), (std::vector<int>{0, 1, 2, 3}));
        QCOMPARE(oracle_context(segs, {42, 45}, 300), (std::vector<int>{2, 3, 4}));  // nothing after: before
        QCOMPARE(oracle_context(segs, {12, 45}, 100),
                 (std::vector<int>{1, 2, 3, 4}));  // evidence kept over budget
        QVERIFY(oracle_context(segs, {60, 70}, 1000).empty());
        segs[3].tokens = 1000;  // too big a neighbour after: the one before still comes
        QCOMPARE(oracle_context(segs, {22, 25}, 300), (std::vector<int>{0, 1, 2}));
    }

    void mean_of_nothing_is_zero() {
        Mean m;
        QCOMPARE(m.value(), 0.0);
        m.add(1);
        m.add(0);
        QCOMPARE(m.value(), 0.5);
        QCOMPARE(m.n, int64_t{2});
    }

    void archive_list_and_count_are_scored_on_the_collections_part_of_the_archive() {
        auto q = parse_qa_line(
            R"({"id":"m1","scope":"archive_split","qtype":"multi_doc_list","question":"Which?",)"
            R"("answers":["A","B","C"],"doc_ids":["A","B","C"]})",
            1);
        QVERIFY(q.is_ok());
        QCOMPARE(archive_scoring(*q), ArchiveScoring::list);
        const std::set<std::string> archive{"A", "B", "C", "D", "E"};
        const ArchiveGold g = archive_gold(*q, {"A", "B", "D"}, archive);
        QVERIFY2(g.skip.empty(), g.skip.c_str());
        QCOMPARE(g.documents, (std::set<std::string>{"A", "B"}));  // C is not in the collection
        QCOMPARE(archive_score(ArchiveScoring::list, g, {"A", "B"}, ""), 1.0);
        QCOMPARE(archive_score(ArchiveScoring::list, g, {"A", "D"}, ""), 0.5);  // P 1/2, R 1/2
        QCOMPARE(archive_score(ArchiveScoring::list, g, {}, ""), 0.0);
        // A count is exact: two predicted documents for two gold ones, whichever they are.
        QCOMPARE(archive_score(ArchiveScoring::count, g, {"A", "D"}, ""), 1.0);
        QCOMPARE(archive_score(ArchiveScoring::count, g, {"A"}, ""), 0.0);
        // None of the collection's documents: the right answer is none.
        const ArchiveGold none = archive_gold(*q, {"D", "E"}, archive);
        QCOMPARE(archive_score(ArchiveScoring::list, none, {}, ""), 1.0);
        QCOMPARE(archive_score(ArchiveScoring::count, none, {"D"}, ""), 0.0);
        // A document outside the archive: its gold is unknown, so the question is skipped.
        QVERIFY(!archive_gold(*q, {"A", "Z"}, archive).skip.empty());
    }

    void archive_comparison_needs_both_documents_and_names_the_gold_one() {
        auto q = parse_qa_line(R"({"id":"m2","scope":"archive_full_or_sample","qtype":"multi_doc_compare",)"
                               R"("question":"Which was entered into earlier: A, or B?","answers":["A"],)"
                               R"("doc_ids":["A","B"],"gold_doc":"A"})",
                               2);
        QVERIFY(q.is_ok());
        QCOMPARE(q->gold_doc, std::string("A"));
        QCOMPARE(archive_scoring(*q), ArchiveScoring::compare);
        QCOMPARE(std::string(archive_scoring_name(ArchiveScoring::compare)), std::string("compare"));
        const ArchiveGold g = archive_gold(*q, {"A", "B", "Q"}, {});  // the archive does not matter here
        QVERIFY2(g.skip.empty(), g.skip.c_str());
        QCOMPARE(archive_score(ArchiveScoring::compare, g, {}, "A"), 1.0);
        QCOMPARE(archive_score(ArchiveScoring::compare, g, {}, "B"), 0.0);
        QCOMPARE(archive_score(ArchiveScoring::compare, g, {}, ""), 0.0);  // undecided
        QCOMPARE(archive_gold(*q, {"A"}, {}).skip, std::string("documents not all in the collection"));
        auto bad =
            parse_qa_line(R"({"id":"x","scope":"s","qtype":"t","question":"q","answers":[],"doc_ids":[],)"
                          R"("gold_doc":3})",
                          4);
        QVERIFY(!bad.is_ok());
        QVERIFY(bad.status().message().find("'gold_doc' must be a string") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestEvalScore)
#include "test_eval_score.moc"
