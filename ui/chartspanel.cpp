#include "ui/chartspanel.h"

#include "ui/podtablemodel.h"

#include <QAreaSeries>
#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QCursor>
#include <QDateTimeAxis>
#include <QEvent>
#include <QFontMetrics>
#include <QGraphicsLayout>
#include <QHBoxLayout>
#include <QHorizontalStackedBarSeries>
#include <QLegend>
#include <QLineSeries>
#include <QToolTip>
#include <QValueAxis>

#include <algorithm>
#include <cmath>

namespace vigil::ui {
namespace {

constexpr qint64 kHourMs = 3600 * 1000;

struct Colors {
    QColor incidents, calls, cost, healthy, unhealthy;
};

// Same hues as the pod table's unhealthy marks, lighter on dark backgrounds.
Colors colorsFor(bool dark)
{
    if (dark)
        return {QColor(0xff, 0x7b, 0x72), QColor(0x79, 0xc0, 0xff), QColor(0xe3, 0xb3, 0x41),
                QColor(0x3f, 0xb9, 0x50), QColor(0xf8, 0x51, 0x49)};
    return {QColor(0xcf, 0x22, 0x2e), QColor(0x09, 0x69, 0xda), QColor(0xbf, 0x87, 0x00),
            QColor(0x2d, 0xa4, 0x4e), QColor(0xcf, 0x22, 0x2e)};
}

// A ceiling that divides into the axis' four intervals without fractions.
int countCeiling(int max)
{
    return std::max(4, (max + 3) / 4 * 4);
}

QChart *makeChart(const QString &title)
{
    auto *chart = new QChart;
    chart->setTitle(title);
    chart->setAnimationOptions(QChart::NoAnimation);
    chart->setMargins(QMargins(2, 2, 2, 2));
    chart->layout()->setContentsMargins(0, 0, 0, 0);
    chart->setBackgroundRoundness(0);
    chart->legend()->setAlignment(Qt::AlignBottom);
    return chart;
}

QChartView *makeView(QChart *chart, QWidget *parent)
{
    auto *view = new QChartView(chart, parent); // takes ownership of the chart
    view->setRenderHint(QPainter::Antialiasing);
    view->setMinimumSize(220, 160);
    return view;
}

// A histogram drawn as a step line: flat across each hour.
QList<QPointF> steps(const QList<ChartsPanel::HourBucket> &buckets,
                     const std::function<double(const ChartsPanel::HourBucket &)> &value)
{
    QList<QPointF> points;
    points.reserve(buckets.size() * 2);
    for (const ChartsPanel::HourBucket &b : buckets) {
        const double start = double(b.start.toMSecsSinceEpoch());
        points.append({start, value(b)});
        points.append({start + double(kHourMs), value(b)});
    }
    return points;
}

} // namespace

ChartsPanel::ChartsPanel(QWidget *parent, Clock clock)
    : QWidget(parent)
    , m_clock(clock ? std::move(clock) : Clock([] { return QDateTime::currentDateTime(); }))
{
    buildCharts();
    applyPalette();
    m_refreshTimer.setSingleShot(true);
    connect(&m_refreshTimer, &QTimer::timeout, this, &ChartsPanel::refresh);
    m_rollTimer.setInterval(60 * 1000);
    connect(&m_rollTimer, &QTimer::timeout, this, &ChartsPanel::scheduleRefresh);
    m_rollTimer.start();
    scheduleRefresh();
}

ChartsPanel::~ChartsPanel() = default;

void ChartsPanel::buildCharts()
{
    auto *layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(4);

    QChart *incidents = makeChart(tr("Incidents per hour"));
    m_incidentLine = new QLineSeries(incidents);
    m_incidentArea = new QAreaSeries(m_incidentLine);
    m_incidentArea->setName(tr("Incidents"));
    incidents->addSeries(m_incidentArea);
    m_incidentTime = new QDateTimeAxis(incidents);
    m_incidentTime->setFormat(QStringLiteral("HH:mm"));
    m_incidentTime->setTickCount(5);
    m_incidentCount = new QValueAxis(incidents);
    m_incidentCount->setLabelFormat(QStringLiteral("%d"));
    m_incidentCount->setTickCount(5);
    incidents->addAxis(m_incidentTime, Qt::AlignBottom);
    incidents->addAxis(m_incidentCount, Qt::AlignLeft);
    m_incidentArea->attachAxis(m_incidentTime);
    m_incidentArea->attachAxis(m_incidentCount);
    incidents->legend()->hide();
    m_incidentView = makeView(incidents, this);
    m_incidentView->setObjectName(QStringLiteral("incidentChart"));

    QChart *llm = makeChart(tr("LLM calls and cost per hour"));
    m_callLine = new QLineSeries(llm);
    m_callArea = new QAreaSeries(m_callLine);
    m_callArea->setName(tr("Calls"));
    m_costLine = new QLineSeries(llm);
    m_costLine->setName(tr("Cost (USD)"));
    llm->addSeries(m_callArea);
    llm->addSeries(m_costLine);
    m_llmTime = new QDateTimeAxis(llm);
    m_llmTime->setFormat(QStringLiteral("HH:mm"));
    m_llmTime->setTickCount(5);
    m_callCount = new QValueAxis(llm);
    m_callCount->setLabelFormat(QStringLiteral("%d"));
    m_callCount->setTickCount(5);
    m_costAxis = new QValueAxis(llm);
    m_costAxis->setLabelFormat(QStringLiteral("$%.2f"));
    m_costAxis->setTickCount(5);
    // With an axis on each side Qt Charts elides the tick labels to "..." in a narrow dock.
    m_callCount->setTruncateLabels(false);
    m_costAxis->setTruncateLabels(false);
    llm->addAxis(m_llmTime, Qt::AlignBottom);
    llm->addAxis(m_callCount, Qt::AlignLeft);
    llm->addAxis(m_costAxis, Qt::AlignRight);
    m_callArea->attachAxis(m_llmTime);
    m_callArea->attachAxis(m_callCount);
    m_costLine->attachAxis(m_llmTime);
    m_costLine->attachAxis(m_costAxis);
    m_llmView = makeView(llm, this);
    m_llmView->setObjectName(QStringLiteral("llmChart"));

    QChart *pods = makeChart(tr("Pod health by namespace"));
    m_podSeries = new QHorizontalStackedBarSeries(pods);
    m_healthySet = new QBarSet(tr("Healthy"), m_podSeries);
    m_unhealthySet = new QBarSet(tr("Unhealthy"), m_podSeries);
    m_podSeries->append(m_healthySet);
    m_podSeries->append(m_unhealthySet);
    m_podSeries->setBarWidth(0.7);
    pods->addSeries(m_podSeries);
    m_namespaceAxis = new QBarCategoryAxis(pods);
    // Qt cuts a category label to "..." when it is taller than its share of the axis; the bars
    // are limited to what fits instead (namespaceHealth), and long names cut by us (namespaceLabel).
    m_namespaceAxis->setTruncateLabels(false);
    m_podCount = new QValueAxis(pods);
    m_podCount->setLabelFormat(QStringLiteral("%d"));
    m_podCount->setTickCount(5);
    pods->addAxis(m_namespaceAxis, Qt::AlignLeft);
    pods->addAxis(m_podCount, Qt::AlignBottom);
    m_podSeries->attachAxis(m_namespaceAxis);
    m_podSeries->attachAxis(m_podCount);
    m_podView = makeView(pods, this);
    m_podView->setObjectName(QStringLiteral("podHealthChart"));
    connect(pods, &QChart::plotAreaChanged, this, &ChartsPanel::updateRowsThatFit);
    connect(m_podSeries, &QHorizontalStackedBarSeries::hovered, this,
            [this](bool entered, int category, QBarSet *) {
                if (entered)
                    QToolTip::showText(QCursor::pos(), namespaceToolTip(category), m_podView);
                else
                    QToolTip::hideText();
            });

    layout->addWidget(m_incidentView, 1);
    layout->addWidget(m_llmView, 1);
    layout->addWidget(m_podView, 1);
}

QChart *ChartsPanel::incidentChart() const
{
    return m_incidentView->chart();
}

QChart *ChartsPanel::llmChart() const
{
    return m_llmView->chart();
}

QChart *ChartsPanel::podHealthChart() const
{
    return m_podView->chart();
}

QDateTime ChartsPanel::hourStart(const QDateTime &at)
{
    const QDateTime local = at.toLocalTime();
    return QDateTime(local.date(), QTime(local.time().hour(), 0));
}

void ChartsPanel::addIncident(const QDateTime &at)
{
    if (!at.isValid())
        return;
    const QDateTime now = m_clock();
    const QDateTime start = hourStart(std::min(at, now)); // a clock ahead of ours lands in this hour
    if (start < hourStart(now).addSecs(-3600LL * (m_hours - 1)))
        return;
    HourBucket &b = m_buckets[start.toMSecsSinceEpoch()];
    b.start = start;
    ++b.incidents;
    scheduleRefresh();
}

void ChartsPanel::addLlmCall(const QDateTime &at, double costUsd, int tokens)
{
    if (!at.isValid())
        return;
    const QDateTime now = m_clock();
    const QDateTime start = hourStart(std::min(at, now));
    if (start < hourStart(now).addSecs(-3600LL * (m_hours - 1)))
        return;
    HourBucket &b = m_buckets[start.toMSecsSinceEpoch()];
    b.start = start;
    ++b.llmCalls;
    b.tokens += std::max(0, tokens);
    b.costUsd += std::max(0.0, costUsd);
    scheduleRefresh();
}

void ChartsPanel::setPodHealth(const QHash<QString, QPair<int, int>> &byNamespace)
{
    if (byNamespace == m_podHealth)
        return;
    m_podHealth = byNamespace;
    scheduleRefresh();
}

void ChartsPanel::setHours(int hours)
{
    m_hours = std::max(1, hours);
    scheduleRefresh();
}

void ChartsPanel::setTopNamespaces(int n)
{
    m_topNamespaces = std::max(1, n);
    scheduleRefresh();
}

void ChartsPanel::setRefreshIntervalMs(int ms)
{
    m_intervalMs = std::max(0, ms);
}

void ChartsPanel::prune()
{
    const qint64 first = hourStart(m_clock()).addSecs(-3600LL * (m_hours - 1)).toMSecsSinceEpoch();
    while (!m_buckets.isEmpty() && m_buckets.firstKey() < first)
        m_buckets.erase(m_buckets.begin());
}

QList<ChartsPanel::HourBucket> ChartsPanel::hourly() const
{
    const QDateTime first = hourStart(m_clock()).addSecs(-3600LL * (m_hours - 1));
    QList<HourBucket> out;
    out.reserve(m_hours);
    for (int i = 0; i < m_hours; ++i) {
        const QDateTime start = first.addSecs(3600LL * i);
        HourBucket b = m_buckets.value(start.toMSecsSinceEpoch());
        b.start = start;
        out.append(b);
    }
    return out;
}

QList<ChartsPanel::NamespaceHealth> ChartsPanel::namespaceHealth() const
{
    QList<NamespaceHealth> all;
    all.reserve(m_podHealth.size());
    for (auto it = m_podHealth.cbegin(); it != m_podHealth.cend(); ++it) {
        if (it->first + it->second > 0)
            all.append({it.key(), it->first, it->second, false});
    }
    std::sort(all.begin(), all.end(), [](const NamespaceHealth &a, const NamespaceHealth &b) {
        if (a.unhealthy != b.unhealthy)
            return a.unhealthy > b.unhealthy;
        if (a.healthy + a.unhealthy != b.healthy + b.unhealthy)
            return a.healthy + a.unhealthy > b.healthy + b.unhealthy;
        return a.name < b.name;
    });
    int top = m_topNamespaces;
    // A short dock has room for fewer labelled bars: one of them is the sum of the rest.
    const int fit = namespaceRowsThatFit();
    if (fit > 0 && all.size() > fit)
        top = std::min(top, std::max(1, fit - 1));
    if (all.size() <= top)
        return all;
    // Spelt out: without a translation loaded, tr()'s %n plural would read "namespace(s)".
    const int rest = int(all.size()) - top;
    NamespaceHealth others{rest == 1 ? tr("1 other namespace") : tr("%1 other namespaces").arg(rest), 0, 0,
                           true};
    for (qsizetype i = top; i < all.size(); ++i) {
        others.healthy += all[i].healthy;
        others.unhealthy += all[i].unhealthy;
    }
    all.resize(top);
    all.append(others);
    return all;
}

QStringList ChartsPanel::namespaceLabels() const
{
    return m_namespaceAxis->categories();
}

QString ChartsPanel::namespaceToolTip(int category) const
{
    if (category < 0 || category >= m_shownNamespaces.size())
        return {};
    const NamespaceHealth &n = m_shownNamespaces[category];
    return tr("%1: %2 healthy, %3 unhealthy pods").arg(n.name).arg(n.healthy).arg(n.unhealthy);
}

QString ChartsPanel::namespaceLabel(const QString &name, const QStringList &taken) const
{
    const QFontMetrics fm(m_namespaceAxis->labelsFont());
    // At most two fifths of the chart's width, so the bars keep the rest; never less than ~14 characters.
    const int maxPx = std::max(fm.averageCharWidth() * 14, m_podView->width() * 2 / 5);
    const QString label = fm.elidedText(name, Qt::ElideMiddle, maxPx);
    // The axis keeps one category per text: two names cut to the same label stay whole.
    return label != name && taken.contains(label) ? name : label;
}

void ChartsPanel::updateRowsThatFit()
{
    const qreal height = podHealthChart()->plotArea().height();
    // Qt hides a category label taller than its share of the axis; leave a little air between them.
    const int line = QFontMetrics(m_namespaceAxis->labelsFont()).height() + 4;
    const int fit = height > 0 ? std::max(1, int(height) / line) : 0;
    if (fit == m_rowsThatFit)
        return;
    m_rowsThatFit = fit;
    scheduleRefresh();
}

QHash<QString, QPair<int, int>> ChartsPanel::podHealthOf(const PodTableModel &model, const QDateTime &now)
{
    QHash<QString, QPair<int, int>> out;
    const int rows = model.rowCount();
    for (int r = 0; r < rows; ++r) {
        QPair<int, int> &counts = out[model.pod(r)->namespaceName];
        if (model.isUnhealthy(r, now))
            ++counts.second;
        else
            ++counts.first;
    }
    return out;
}

void ChartsPanel::scheduleRefresh()
{
    if (m_refreshTimer.isActive())
        return;
    const qint64 wait = m_sinceRefresh.isValid() ? m_intervalMs - m_sinceRefresh.elapsed() : 0;
    m_refreshTimer.start(int(std::clamp<qint64>(wait, 0, m_intervalMs)));
}

void ChartsPanel::refresh()
{
    m_sinceRefresh.start();
    ++m_refreshes;
    prune();

    const QList<HourBucket> buckets = hourly();
    const double from = double(buckets.first().start.toMSecsSinceEpoch());
    const double to = double(buckets.last().start.toMSecsSinceEpoch() + kHourMs);
    int maxIncidents = 0, maxCalls = 0;
    double maxCost = 0;
    for (const HourBucket &b : buckets) {
        maxIncidents = std::max(maxIncidents, b.incidents);
        maxCalls = std::max(maxCalls, b.llmCalls);
        maxCost = std::max(maxCost, b.costUsd);
    }
    m_incidentLine->replace(steps(buckets, [](const HourBucket &b) { return double(b.incidents); }));
    m_incidentTime->setRange(QDateTime::fromMSecsSinceEpoch(qint64(from)),
                             QDateTime::fromMSecsSinceEpoch(qint64(to)));
    m_incidentCount->setRange(0, countCeiling(maxIncidents));
    m_callLine->replace(steps(buckets, [](const HourBucket &b) { return double(b.llmCalls); }));
    m_costLine->replace(steps(buckets, [](const HourBucket &b) { return b.costUsd; }));
    m_llmTime->setRange(QDateTime::fromMSecsSinceEpoch(qint64(from)),
                        QDateTime::fromMSecsSinceEpoch(qint64(to)));
    m_callCount->setRange(0, countCeiling(maxCalls));
    // Cents at least, so an idle day does not draw a scale of fractions of a cent.
    m_costAxis->setRange(0, std::max(0.04, std::ceil(maxCost * 1.1 * 100.0) / 100.0));

    const QList<NamespaceHealth> rows = namespaceHealth();
    QStringList names;
    QList<qreal> healthy, unhealthy;
    int maxPods = 0;
    m_shownNamespaces.clear();
    // The category axis runs bottom-up: append in reverse so the worst namespace is on top.
    for (auto it = rows.crbegin(); it != rows.crend(); ++it) {
        names.append(namespaceLabel(it->name, names));
        m_shownNamespaces.append(*it);
        healthy.append(it->healthy);
        unhealthy.append(it->unhealthy);
        maxPods = std::max(maxPods, it->healthy + it->unhealthy);
    }
    m_healthySet->remove(0, m_healthySet->count());
    m_unhealthySet->remove(0, m_unhealthySet->count());
    m_namespaceAxis->clear();
    m_namespaceAxis->append(names);
    m_healthySet->append(healthy);
    m_unhealthySet->append(unhealthy);
    m_podCount->setRange(0, countCeiling(maxPods));
    m_podCount->applyNiceNumbers();
    Q_EMIT refreshed();
}

int ChartsPanel::namespaceRowsThatFit() const
{
    // A hidden chart's geometry is a placeholder: it limits nothing until shown.
    return m_podView->isVisible() ? m_rowsThatFit : 0;
}

void ChartsPanel::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    scheduleRefresh();
}

void ChartsPanel::changeEvent(QEvent *event)
{
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange || event->type() == QEvent::StyleChange)
        applyPalette();
}

void ChartsPanel::applyPalette()
{
    const QPalette pal = palette();
    const bool dark = pal.color(QPalette::Window).lightness() < 128;
    const Colors c = colorsFor(dark);
    for (QChartView *view : {m_incidentView, m_llmView, m_podView}) {
        QChart *chart = view->chart();
        // A theme restyles series and axes; our colours and the palette's background go on after it.
        chart->setTheme(dark ? QChart::ChartThemeDark : QChart::ChartThemeLight);
        chart->setBackgroundBrush(pal.color(QPalette::Window));
        chart->setTitleBrush(pal.color(QPalette::WindowText));
        chart->legend()->setLabelColor(pal.color(QPalette::WindowText));
        QFont title = font();
        title.setBold(true);
        chart->setTitleFont(title);
        for (QAbstractAxis *axis : chart->axes()) {
            axis->setLabelsColor(pal.color(QPalette::WindowText));
            axis->setLabelsFont(font());
            axis->setGridLineColor(pal.color(QPalette::Mid));
            axis->setLinePenColor(pal.color(QPalette::Mid));
        }
        view->setBackgroundBrush(pal.color(QPalette::Window));
    }
    const auto fillArea = [](QAreaSeries *area, QColor color) {
        area->setPen(QPen(color, 1.5));
        color.setAlpha(90);
        area->setBrush(color);
    };
    fillArea(m_incidentArea, c.incidents);
    fillArea(m_callArea, c.calls);
    m_costLine->setPen(QPen(c.cost, 2));
    m_healthySet->setColor(c.healthy);
    m_healthySet->setBorderColor(c.healthy);
    m_unhealthySet->setColor(c.unhealthy);
    m_unhealthySet->setBorderColor(c.unhealthy);
    updateRowsThatFit(); // the labels' font may have changed
}

} // namespace vigil::ui
