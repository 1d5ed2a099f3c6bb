// Docket's CPU forward pass against an independent fp32 oracle (Hugging Face transformers + PyTorch reading
// the same GGUF; data made by tests/golden/make_golden.py, schema in tests/golden/README.md). Per case:
// identical tokenization (when the case has a prompt), identical top-1 at every prompt position (either of
// the two best where the oracle marks a near tie), the 8 best logits within 1% of the logit range, and the
// identical 32-token greedy continuation. Prints the largest logit difference and its ratio to the range.
//
// GOLDEN_FILES (compile definition): the data/*.json files this executable checks, ','-separated.
#include <QCryptographicHash>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <algorithm>
#include <cmath>

#include "model/tokenizer.h"
#include "runtime/forward.h"
#include "test_paths.h"

using namespace docket;

namespace {

QString data_dir() {
    return QString::fromStdString(test::source_dir()) + "/tests/golden/data";
}

std::vector<int> ints(const QJsonValue& v) {
    std::vector<int> out;
    for (const auto& x : v.toArray()) out.push_back(x.toInt());
    return out;
}

QByteArray sha256_of(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    QCryptographicHash h(QCryptographicHash::Sha256);
    h.addData(&f);
    return h.result().toHex();
}

int argmax(const float* v, int n) {
    return static_cast<int>(std::max_element(v, v + n) - v);
}

}  // namespace

class TestForwardGolden : public QObject {
    Q_OBJECT
private slots:
    void forward_matches_the_oracle() {
        const QStringList files = QString(GOLDEN_FILES).split(',', Qt::SkipEmptyParts);
        QVERIFY(!files.isEmpty());
        for (const QString& name : files) check_file(data_dir() + "/" + name);
    }

private:
    void check_file(const QString& path) {
        QFile f(path);
        QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable("golden data missing: " + path));
        QJsonParseError err;
        const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &err);
        QVERIFY2(!doc.isNull(), qPrintable(path + ": " + err.errorString()));
        const QJsonObject root = doc.object();
        QCOMPARE(root["format"].toString(), QString("docket-golden-logits/1"));
        const QJsonObject mj = root["model"].toObject();
        const QString file = mj["file"].toString();
        // The default model lives in the model cache; tiny ones next to the JSON.
        QString model_path = data_dir() + "/" + file;
        if (!QFile::exists(model_path)) model_path = QString::fromStdString(test::model_dir()) + "/" + file;
        QVERIFY2(QFile::exists(model_path), qPrintable("model missing: " + file));
        const QByteArray sha = sha256_of(model_path);
        QVERIFY2(
            sha == mj["sha256"].toString().toLatin1(),
            qPrintable(model_path + " is not the file the golden data was made from (sha256 " + sha + ")"));

        auto model = Model::load(model_path.toStdString());
        QVERIFY2(model.is_ok(), model.status().to_string().c_str());
        const Model& m = **model;
        const ModelConfig& c = m.config();
        QCOMPARE(c.n_layer, mj["n_layer"].toInt());
        QCOMPARE(c.n_embd, mj["n_embd"].toInt());
        QCOMPARE(c.n_head, mj["n_head"].toInt());
        QCOMPARE(c.n_head_kv, mj["n_head_kv"].toInt());
        QCOMPARE(c.head_dim, mj["head_dim"].toInt());
        QCOMPARE(c.n_vocab, mj["n_vocab"].toInt());
        auto tok = Tokenizer::from_gguf(m.gguf());
        QVERIFY2(tok.is_ok(), tok.status().to_string().c_str());
        CpuForward fw(m, 0);
        const int V = c.n_vocab;

        for (const auto& cv : root["cases"].toArray()) {
            const QJsonObject cs = cv.toObject();
            const QByteArray label = (QFileInfo(path).fileName() + ":" + cs["name"].toString()).toUtf8();
            const std::vector<int> ids_i = ints(cs["token_ids"]);
            const std::vector<TokenId> ids(ids_i.begin(), ids_i.end());
            const int T = static_cast<int>(ids.size());
            QVERIFY2(T > 0, label.constData());
            if (cs["prompt"].isString()) {
                const auto mine = (*tok)->encode(cs["prompt"].toString().toStdString(), false, true);
                QVERIFY2(mine == ids, qPrintable(label + ": tokenization differs from the oracle's"));
            }

            const QJsonObject greedy = cs["greedy"].toObject();
            const int steps = greedy["steps"].toInt();
            auto cache = KvCache::create(c, T + steps + 1);
            QVERIFY(cache.is_ok());
            std::vector<float> logits;
            Status s = fw.eval(**cache, ids, LogitsMode::all, &logits);
            QVERIFY2(s.is_ok(), s.to_string().c_str());

            const QJsonArray top1 = cs["top1_id"].toArray(), near_tie = cs["near_tie"].toArray();
            const QJsonArray maxl = cs["max_logit"].toArray(), minl = cs["min_logit"].toArray();
            const QJsonArray top_ids = cs["top_ids"].toArray(), top_logits = cs["top_logits"].toArray();
            double worst = 0.0, worst_ratio = 0.0;
            int worst_pos = -1, top1_mismatch = 0;
            for (int p = 0; p < T; ++p) {
                const float* row = logits.data() + static_cast<size_t>(p) * V;
                const int mine = argmax(row, V);
                const QJsonArray tids = top_ids[p].toArray(), tl = top_logits[p].toArray();
                bool ok = mine == top1[p].toInt();
                if (!ok && near_tie[p].toBool()) ok = mine == tids[0].toInt() || mine == tids[1].toInt();
                if (!ok) {
                    ++top1_mismatch;
                    qWarning("%s: position %d: top-1 %d (%.4f), oracle %d (%.4f)", label.constData(), p, mine,
                             row[mine], top1[p].toInt(), row[top1[p].toInt()]);
                }
                const double range = maxl[p].toDouble() - minl[p].toDouble();
                for (int j = 0; j < tids.size(); ++j) {
                    const double d = std::fabs(row[tids[j].toInt()] - tl[j].toDouble());
                    if (d / range > worst_ratio) worst_ratio = d / range, worst = d, worst_pos = p;
                }
            }
            for (const auto& pv : cs["probes"].toArray()) {
                const QJsonObject pr = pv.toObject();
                const int p = pr["pos"].toInt();
                QVERIFY(p >= 0 && p < T);
                const double range = maxl[p].toDouble() - minl[p].toDouble();
                const QJsonArray pids = pr["ids"].toArray(), pl = pr["logits"].toArray();
                for (int j = 0; j < pids.size(); ++j) {
                    const double d =
                        std::fabs(logits[static_cast<size_t>(p) * V + pids[j].toInt()] - pl[j].toDouble());
                    if (d / range > worst_ratio) worst_ratio = d / range, worst = d, worst_pos = p;
                }
            }

            // Greedy continuation, 32 steps, not stopping at EOS.
            const std::vector<int> want = ints(greedy["ids"]);
            const QJsonArray g_tie = greedy["near_tie"].toArray();
            int compare_upto = static_cast<int>(want.size());
            for (int k = 0; k < g_tie.size(); ++k)
                if (g_tie[k].toBool()) {
                    compare_upto = k + 1;
                    break;
                }
            std::vector<int> got;
            std::vector<float> last(logits.end() - V, logits.end());
            for (int k = 0; k < steps; ++k) {
                const TokenId next = argmax(last.data(), V);
                got.push_back(next);
                if (k + 1 == steps) break;
                s = fw.eval(**cache, std::span<const TokenId>(&next, 1), LogitsMode::last, &last);
                QVERIFY2(s.is_ok(), s.to_string().c_str());
            }
            int first_diff = -1;
            for (int k = 0; k < compare_upto && k < static_cast<int>(got.size()); ++k)
                if (got[k] != want[k]) {
                    first_diff = k;
                    break;
                }
            qInfo(
                "%s: %d tokens; top-1 mismatches %d; max |logit diff| %.5f = %.4f%% of the logit range "
                "(position %d); greedy %d/%d compared, first difference %d",
                label.constData(), T, top1_mismatch, worst, 100.0 * worst_ratio, worst_pos, compare_upto,
                steps, first_diff);
            QVERIFY2(top1_mismatch == 0, label.constData());
            QVERIFY2(worst_ratio <= 0.01, label.constData());
            QVERIFY2(first_diff < 0, qPrintable(label + ": greedy continuation differs at step " +
                                                QString::number(first_diff)));
        }
    }
};

QTEST_APPLESS_MAIN(TestForwardGolden)
#include "test_forward_golden.moc"
