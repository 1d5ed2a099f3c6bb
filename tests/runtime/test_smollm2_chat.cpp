// End to end on the default model: chat template -> tokenizer -> CPU forward -> greedy generation. SmolLM2
// must answer "Paris" to the capital-of-France question, and stream the same text the batch decode gives.
#include <QtTest>

#include "model/chat_template.h"
#include "model/tokenizer.h"
#include "runtime/generate.h"
#include "runtime_test_util.h"
#include "test_paths.h"

using namespace docket;

class TestSmollm2Chat : public QObject {
    Q_OBJECT
private slots:
    void answers_paris() {
        auto m = Model::load(test::smollm2_path());
        QVERIFY2(m.is_ok(), m.status().to_string().c_str());
        auto tok = Tokenizer::from_gguf((*m)->gguf());
        QVERIFY2(tok.is_ok(), tok.status().to_string().c_str());
        auto tmpl = ChatTemplate::from_gguf((*m)->gguf());
        QVERIFY2(tmpl.is_ok(), tmpl.status().to_string().c_str());
        const std::vector<ChatMessage> msgs = {
            {"user", "What is the capital of France? Answer in one word."}};
        const auto ids = encode_chat(**tok, *tmpl, msgs, true).value();
        QVERIFY(ids.size() > 10);
        // No special-token text in the message: the same ids as encoding the flat prompt.
        QCOMPARE(ids, (*tok)->encode(tmpl->apply(msgs, true), false, true));

        CpuForward fw(**m, 0);
        auto cache = test::new_cache((*m)->config(), 256);
        GenerateParams gp;
        gp.max_tokens = 24;
        std::string streamed;
        StreamingDecoder dec(**tok);
        auto r = generate(
            fw, *cache, ids, gp, [&](TokenId t) { return (*tok)->is_eog(t); },
            [&](TokenId t) {
                if (!(*tok)->is_eog(t)) streamed += dec.push(t);
                return true;
            });
        QVERIFY2(r.is_ok(), r.status().to_string().c_str());
        streamed += dec.flush();
        qInfo("answer: \"%s\" (%d tokens, stop %s, %.1f tok/s)", streamed.c_str(), r->generated,
              stop_reason_name(r->stop), (r->generated - 1) / std::max(r->generate_seconds, 1e-9));
        QVERIFY2(streamed.find("Paris") != std::string::npos, streamed.c_str());
        QCOMPARE(r->stop, StopReason::eog);
        std::vector<TokenId> body(r->tokens.begin(), r->tokens.end() - 1);
        QCOMPARE(QString::fromStdString(streamed), QString::fromStdString((*tok)->decode(body)));
    }
};

QTEST_APPLESS_MAIN(TestSmollm2Chat)
#include "test_smollm2_chat.moc"
