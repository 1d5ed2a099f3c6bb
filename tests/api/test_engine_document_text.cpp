// Engine::document_text: the text a document viewer shows is the one ingest stored, byte for byte the file it
// read (a plain UTF-8 contract), so the spans of segments and citations index it; unknown names are errors.
#include <QtTest>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "api/engine.h"
#include "test_paths.h"

using namespace docket;
namespace fs = std::filesystem;

class TestEngineDocumentText : public QObject {
    Q_OBJECT
    std::string data_, file_;
    std::unique_ptr<Engine> engine_;

private slots:
    void initTestCase() {
        const std::string root = test::binary_dir() + "/test-scratch/document-text-" + std::to_string(::getpid());
        fs::remove_all(root);
        data_ = root + "/data";
        fs::create_directories(root + "/docs");
        file_ = root + "/docs/04-endorsement-lifeway-foods.txt";
        fs::copy_file(test::source_dir() + "/resources/sample-archive/04-endorsement-lifeway-foods.txt", file_);
        EngineOptions o;
        o.data_dir = data_;
        o.model_path = test::smollm2_path();
        auto e = Engine::open(o);
        QVERIFY2(e.is_ok(), e.status().to_string().c_str());
        engine_ = std::move(*e);
        Job job = engine_->add_documents("c", {file_});
        QVERIFY2(job.wait().is_ok(), job.wait().to_string().c_str());
    }

    void document_text_is_the_ingested_text_that_segment_spans_index() {
        std::ifstream in(file_, std::ios::binary);
        const std::string original(std::istreambuf_iterator<char>(in), {});
        auto text = engine_->document_text("c", file_);
        QVERIFY2(text.is_ok(), text.status().to_string().c_str());
        QCOMPARE(text->size(), original.size());
        QVERIFY(*text == original);
        auto segs = engine_->segments("c", file_);
        QVERIFY(segs.is_ok() && segs->size() > 1);
        QCOMPARE(static_cast<size_t>(segs->back().char_end), text->size());
    }

    void document_text_of_an_unknown_document_or_collection_is_not_found() {
        auto no_doc = engine_->document_text("c", file_ + ".missing");
        QVERIFY(!no_doc.is_ok());
        QCOMPARE(no_doc.status().code(), ErrorCode::not_found);
        auto no_coll = engine_->document_text("nope", file_);
        QVERIFY(!no_coll.is_ok());
        QCOMPARE(no_coll.status().code(), ErrorCode::not_found);
    }
};

QTEST_GUILESS_MAIN(TestEngineDocumentText)
#include "test_engine_document_text.moc"
