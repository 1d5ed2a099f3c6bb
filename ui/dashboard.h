#pragma once
// The engine dashboard (a dock): the engine's counters (Engine::telemetry) sampled at 2 Hz, five minutes kept,
// drawn as Qt Charts. Each chart is a ChartSpec of SeriesSpecs computed from two consecutive samples, so the
// memory-tier figures (GPU / host / SSD usage against budget, link GB/s, hit rates: issue 10) plug in as more
// specs once Engine::telemetry carries them; until then a note says what is not measured, and no empty chart
// is drawn for it.
#include <QElapsedTimer>
#include <QTimer>
#include <QVector>
#include <QWidget>

#include <functional>

#include "api/engine.h"

class QChart;
class QChartView;
class QLabel;
class QLineSeries;
class QValueAxis;

namespace docket::ui {

class EngineBridge;

struct TelemetrySample {
    double t = 0.0;  // seconds since the dashboard started
    docket::TelemetrySnapshot v;
};

struct SeriesSpec {
    QString name;
    // The value at `cur`, given the sample before it (rates divide by cur.t - prev.t).
    std::function<double(const TelemetrySample& prev, const TelemetrySample& cur)> value;
};

struct ChartSpec {
    QString title, unit;
    QVector<SeriesSpec> series;
};

// The charts that have real counters today.
QVector<ChartSpec> engineChartSpecs();

class Dashboard : public QWidget {
    Q_OBJECT
public:
    static constexpr int kSampleMs = 500;       // 2 Hz
    static constexpr double kHistorySeconds = 300.0;

    explicit Dashboard(EngineBridge* bridge, QWidget* parent = nullptr);
    void sampleNow();
    int sampleCount() const { return int(m_samples.size()); }
    const QVector<TelemetrySample>& samples() const { return m_samples; }
    QString notMeasuredNote() const;

private:
    struct Chart {
        ChartSpec spec;
        QChart* chart = nullptr;
        QVector<QLineSeries*> lines;
        QValueAxis* x = nullptr;
        QValueAxis* y = nullptr;
    };
    void redraw();
    void styleChart(QChart* chart);
    void changeEvent(QEvent* e) override;

    EngineBridge* m_bridge;
    QTimer m_timer;
    QElapsedTimer m_clock;
    QVector<TelemetrySample> m_samples;
    QVector<Chart> m_charts;
    QLabel* m_info;
    QLabel* m_note;
};

}  // namespace docket::ui
