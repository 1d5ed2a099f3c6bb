#include "dashboard.h"

#include <QEvent>
#include <QFileInfo>
#include <QLabel>
#include <QLocale>
#include <QScrollArea>
#include <QVBoxLayout>
#include <QtCharts/QChart>
#include <QtCharts/QChartView>
#include <QtCharts/QLegend>
#include <QtCharts/QLineSeries>
#include <QtCharts/QValueAxis>

#include "catalog_models.h"
#include "engine_bridge.h"

namespace docket::ui {
namespace {

using Counter = uint64_t docket::TelemetrySnapshot::*;

double rate(const TelemetrySample& a, const TelemetrySample& b, Counter c) {
    const double dt = b.t - a.t;
    const uint64_t x = b.v.*c, y = a.v.*c;
    return dt > 0 && x >= y ? double(x - y) / dt : 0.0;
}

SeriesSpec rateOf(const QString& name, Counter c, double scale = 1.0) {
    return {name, [c, scale](const TelemetrySample& a, const TelemetrySample& b) { return rate(a, b, c) * scale; }};
}

SeriesSpec totalOf(const QString& name, Counter c) {
    return {name, [c](const TelemetrySample&, const TelemetrySample& b) { return double(b.v.*c); }};
}

}  // namespace

QVector<ChartSpec> engineChartSpecs() {
    using T = docket::TelemetrySnapshot;
    return {
        {QObject::tr("Snapshots loaded from the store (per second, MB/s)"), QObject::tr("per second"),
         {rateOf(QObject::tr("snapshots/s"), &T::snapshots_loaded),
          rateOf(QObject::tr("MB/s"), &T::snapshot_bytes_loaded, 1e-6)}},
        {QObject::tr("Segments (totals)"), QObject::tr("segments"),
         {totalOf(QObject::tr("prefilled"), &T::segments_prefilled), totalOf(QObject::tr("reused"), &T::segments_reused),
          totalOf(QObject::tr("recomputed"), &T::segments_recomputed)}},
        {QObject::tr("Tokens per second"), QObject::tr("tokens/s"),
         {rateOf(QObject::tr("prefilled/s"), &T::tokens_prefilled), rateOf(QObject::tr("composed/s"), &T::tokens_composed),
          rateOf(QObject::tr("generated/s"), &T::tokens_generated)}},
    };
}

Dashboard::Dashboard(EngineBridge* bridge, QWidget* parent) : QWidget(parent), m_bridge(bridge) {
    setObjectName(QStringLiteral("dashboard"));
    m_info = new QLabel(this);
    m_info->setWordWrap(true);
    m_info->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_note = new QLabel(notMeasuredNote(), this);
    m_note->setWordWrap(true);
    m_note->setObjectName(QStringLiteral("notMeasuredNote"));
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_info);
    for (const ChartSpec& spec : engineChartSpecs()) {
        Chart c;
        c.spec = spec;
        c.chart = new QChart;
        c.chart->setTitle(spec.title);
        c.x = new QValueAxis;
        c.x->setRange(-kHistorySeconds, 0);
        c.x->setTickCount(6);
        c.x->setLabelFormat(QStringLiteral("%d s"));
        c.y = new QValueAxis;
        c.y->setRange(0, 1);
        c.y->setTickCount(4);
        c.y->setLabelFormat(QStringLiteral("%.4g"));
        c.chart->addAxis(c.x, Qt::AlignBottom);
        c.chart->addAxis(c.y, Qt::AlignLeft);
        for (const SeriesSpec& s : spec.series) {
            auto* line = new QLineSeries;
            line->setName(s.name);
            c.chart->addSeries(line);
            line->attachAxis(c.x);
            line->attachAxis(c.y);
            c.lines.push_back(line);
        }
        c.chart->legend()->setAlignment(Qt::AlignBottom);
        c.chart->setMargins(QMargins(2, 2, 2, 2));
        styleChart(c.chart);
        auto* view = new QChartView(c.chart, this);
        view->setRenderHint(QPainter::Antialiasing);
        view->setMinimumHeight(180);
        layout->addWidget(view, 1);
        m_charts.push_back(c);
    }
    layout->addWidget(m_note);
    m_clock.start();
    m_timer.setInterval(kSampleMs);
    connect(&m_timer, &QTimer::timeout, this, &Dashboard::sampleNow);
    m_timer.start();
}

QString Dashboard::notMeasuredNote() const {
    return tr("Not measured yet: memory-tier usage (GPU, host, SSD: bytes and tokens against budget), GB/s per "
              "link, hit rates, compression ratio and the residency map arrive with the memory tiers (issue 10); "
              "until then snapshots are read from the on-disk store, and the backend above says where the model "
              "runs.");
}

void Dashboard::styleChart(QChart* chart) {
    // Follow the system palette (light or dark) and font instead of a Qt Charts theme.
    const QPalette p = palette();
    QFont small = font();
    small.setPointSizeF(font().pointSizeF() * 0.85);
    chart->setBackgroundBrush(p.base());
    chart->setTitleBrush(p.text());
    chart->setTitleFont(font());
    chart->legend()->setLabelColor(p.color(QPalette::Text));
    chart->legend()->setFont(small);
    for (QAbstractAxis* a : chart->axes()) {
        a->setLabelsFont(small);
        a->setLabelsBrush(p.text());
        a->setTitleBrush(p.text());
        a->setGridLineColor(p.color(QPalette::Mid));
        a->setLinePenColor(p.color(QPalette::Mid));
    }
}

void Dashboard::changeEvent(QEvent* e) {
    if (e->type() == QEvent::PaletteChange)
        for (Chart& c : m_charts) styleChart(c.chart);
    QWidget::changeEvent(e);
}

void Dashboard::sampleNow() {
    const auto t = m_bridge->telemetry();
    if (!t) return;
    const double now = double(m_clock.elapsed()) / 1000.0;
    m_samples.push_back({now, *t});
    while (!m_samples.isEmpty() && m_samples.front().t < now - kHistorySeconds - 1.0) m_samples.pop_front();
    m_info->setText(tr("<b>Model</b> %1 &nbsp; <b>Backend</b> %2 &nbsp; <b>Codec</b> %3<br>"
                       "questions answered: %4; documents ingested: %5 (%6 skipped, %7 failed); snapshots "
                       "loaded: %8 (%9)")
                        .arg(QFileInfo(QString::fromStdString(t->model)).fileName().toHtmlEscaped(),
                             QString::fromStdString(t->backend).toHtmlEscaped(),
                             QString::fromStdString(t->codec).toHtmlEscaped())
                        .arg(t->questions_answered)
                        .arg(t->documents_ingested)
                        .arg(t->documents_skipped)
                        .arg(t->documents_failed)
                        .arg(QLocale().toString(qulonglong(t->snapshots_loaded)))
                        .arg(formatBytes(qint64(t->snapshot_bytes_loaded))));
    if (isVisible()) redraw();
}

void Dashboard::redraw() {
    if (m_samples.size() < 2) return;
    const double now = m_samples.back().t;
    for (Chart& c : m_charts) {
        double top = 0.0;
        for (int s = 0; s < c.spec.series.size(); ++s) {
            QList<QPointF> points;
            points.reserve(m_samples.size());
            for (int i = 1; i < m_samples.size(); ++i) {
                const double v = c.spec.series[s].value(m_samples[i - 1], m_samples[i]);
                top = std::max(top, v);
                points.append(QPointF(m_samples[i].t - now, v));
            }
            c.lines[s]->replace(points);
        }
        c.y->setRange(0, top > 0 ? top * 1.1 : 1.0);
        c.y->applyNiceNumbers();
    }
}

}  // namespace docket::ui
