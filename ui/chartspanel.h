#pragma once

#include <QDateTime>
#include <QElapsedTimer>
#include <QHash>
#include <QMap>
#include <QPair>
#include <QTimer>
#include <QWidget>

#include <functional>

class QAreaSeries;
class QBarCategoryAxis;
class QBarSet;
class QChart;
class QChartView;
class QDateTimeAxis;
class QHorizontalStackedBarSeries;
class QLineSeries;
class QValueAxis;

namespace vigil::ui {

class PodTableModel;

/// Small charts a person would rather look at than read: incidents per hour,
/// LLM calls and their cost per hour, and pod health by namespace. Fed with
/// plain values; however often it is fed, the charts are rebuilt at most
/// once per refresh interval (1 s).
class ChartsPanel final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ChartsPanel)

public:
    using Clock = std::function<QDateTime()>;

    /// One hour of the time charts, starting on a whole local hour.
    struct HourBucket {
        QDateTime start;
        int incidents = 0;
        int llmCalls = 0;
        int tokens = 0;
        double costUsd = 0.0;
    };
    /// One bar of the namespace chart; the last may be "other namespaces".
    struct NamespaceHealth {
        QString name;
        int healthy = 0;
        int unhealthy = 0;
        bool others = false; ///< the sum of every namespace beyond the top N
    };

    explicit ChartsPanel(QWidget *parent = nullptr, Clock clock = {});
    ~ChartsPanel() override;

    void addIncident(const QDateTime &at);
    void addLlmCall(const QDateTime &at, double costUsd, int tokens);
    /// Pods per namespace: first healthy, second unhealthy. Replaces the previous counts.
    void setPodHealth(const QHash<QString, QPair<int, int>> &byNamespace);
    /// Hours shown by the time charts, ending with the current one (default 24).
    void setHours(int hours);
    /// Namespaces with their own bar; the rest are summed into one (default 8, fewer
    /// when the chart is too short to give every bar a readable label).
    void setTopNamespaces(int n);
    /// The coalescing interval; 1000 ms unless a test needs it shorter.
    void setRefreshIntervalMs(int ms);

    /// The buckets the time charts show, oldest first, empty hours included.
    QList<HourBucket> hourly() const;
    /// The bars of the namespace chart: most unhealthy first, then most pods, then by name.
    QList<NamespaceHealth> namespaceHealth() const;
    /// The namespace axis' labels as last drawn, bottom bar first: a name too long for the
    /// narrow dock is cut in the middle with "…" (its tooltip has it whole).
    QStringList namespaceLabels() const;
    /// The tooltip of the bar at this category (bottom first): full name and pod counts.
    QString namespaceToolTip(int category) const;
    /// Bars the namespace chart has room to label, from its plot height; 0 while it is hidden.
    int namespaceRowsThatFit() const;
    /// The start of the local hour `at` falls in.
    static QDateTime hourStart(const QDateTime &at);
    /// Healthy and unhealthy pods per namespace, by PodTableModel::isUnhealthy.
    static QHash<QString, QPair<int, int>> podHealthOf(const PodTableModel &model, const QDateTime &now);

    QChart *incidentChart() const;
    QChart *llmChart() const;
    QChart *podHealthChart() const;
    /// Charts rebuilt since construction; a test's view of the coalescing.
    int refreshCount() const { return m_refreshes; }

Q_SIGNALS:
    void refreshed();

protected:
    void changeEvent(QEvent *event) override;
    void showEvent(QShowEvent *event) override;

private:
    void buildCharts();
    void scheduleRefresh();
    void refresh();
    void applyPalette();
    void prune();
    void updateRowsThatFit();
    QString namespaceLabel(const QString &name, const QStringList &taken) const;

    Clock m_clock;
    int m_hours = 24;
    int m_topNamespaces = 8;
    int m_intervalMs = 1000;
    QMap<qint64, HourBucket> m_buckets; ///< key: bucket start, ms since epoch
    QHash<QString, QPair<int, int>> m_podHealth;
    QList<NamespaceHealth> m_shownNamespaces; ///< in axis order, bottom bar first
    int m_rowsThatFit = 0;
    QTimer m_refreshTimer;
    QTimer m_rollTimer;           ///< moves the time window on when nothing else happens
    QElapsedTimer m_sinceRefresh; ///< invalid until the first refresh
    int m_refreshes = 0;

    QChartView *m_incidentView = nullptr;
    QChartView *m_llmView = nullptr;
    QChartView *m_podView = nullptr;
    QLineSeries *m_incidentLine = nullptr; // series and axes: owned by their charts
    QAreaSeries *m_incidentArea = nullptr;
    QDateTimeAxis *m_incidentTime = nullptr;
    QValueAxis *m_incidentCount = nullptr;
    QLineSeries *m_callLine = nullptr;
    QAreaSeries *m_callArea = nullptr;
    QLineSeries *m_costLine = nullptr;
    QDateTimeAxis *m_llmTime = nullptr;
    QValueAxis *m_callCount = nullptr;
    QValueAxis *m_costAxis = nullptr;
    QHorizontalStackedBarSeries *m_podSeries = nullptr;
    QBarSet *m_healthySet = nullptr;
    QBarSet *m_unhealthySet = nullptr;
    QBarCategoryAxis *m_namespaceAxis = nullptr;
    QValueAxis *m_podCount = nullptr;
};

} // namespace vigil::ui
