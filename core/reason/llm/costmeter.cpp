#include "core/reason/llm/costmeter.h"

#include <QFile>

#include <yaml-cpp/yaml.h>

namespace vigil::llm {
namespace {

constexpr qint64 kMsPerDay = 86400000;

Result<double> readPrice(const YAML::Node &node, const char *field, const QString &where)
{
    const YAML::Node v = node[field];
    const QString at =
        QStringLiteral("%1.%2 (line %3)").arg(where, QLatin1String(field)).arg(node.Mark().line + 1);
    if (!v)
        return Error(QStringLiteral("%1: missing; expected USD per 1M tokens").arg(at));
    if (!v.IsScalar())
        return Error(QStringLiteral("%1: expected a number").arg(at));
    const QString text = QString::fromStdString(v.Scalar());
    bool ok = false;
    const double d = text.toDouble(&ok);
    if (!ok || d < 0)
        return Error(QStringLiteral("%1: expected a non-negative number, got '%2'").arg(at, text));
    return d;
}

} // namespace

PriceTable PriceTable::defaults()
{
    PriceTable t;
    const struct {
        const char *model;
        double in;
        double out;
    } rows[] = {
        {"gpt-4o-mini", 0.15, 0.60},
        {"gpt-4o", 2.50, 10.00},
        {"gpt-4.1-nano", 0.10, 0.40},
        {"gpt-4.1-mini", 0.40, 1.60},
        {"gpt-4.1", 2.00, 8.00},
        {"gpt-5-nano", 0.05, 0.40},
        {"gpt-5-mini", 0.25, 2.00},
        {"gpt-5", 1.25, 10.00},
        {"o4-mini", 1.10, 4.40},
        {"o3-mini", 1.10, 4.40},
        {"o3", 2.00, 8.00},
        {"claude-3-5-haiku", 0.80, 4.00},
        {"claude-haiku-4-5", 1.00, 5.00},
        {"claude-3-5-sonnet", 3.00, 15.00},
        {"claude-3-7-sonnet", 3.00, 15.00},
        {"claude-sonnet-4", 3.00, 15.00},
        {"claude-opus-4", 15.00, 75.00},
    };
    for (const auto &row : rows)
        t.set(QString::fromLatin1(row.model), {row.in, row.out});
    return t;
}

Result<PriceTable> PriceTable::loadFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return Error(QStringLiteral("price table %1: %2").arg(path, file.errorString()));
    return parse(file.readAll(), path);
}

Result<PriceTable> PriceTable::parse(const QByteArray &text, const QString &source)
{
    YAML::Node root;
    try {
        root = YAML::Load(text.toStdString());
    } catch (const YAML::Exception &e) {
        return Error(QStringLiteral("price table %1: line %2: %3")
                         .arg(source)
                         .arg(e.mark.line + 1)
                         .arg(QString::fromStdString(e.msg)));
    }
    try {
        if (!root.IsMap() || !root["models"])
            return Error(QStringLiteral("price table %1: expected a top-level 'models' map").arg(source));
        const YAML::Node models = root["models"];
        if (!models.IsMap())
            return Error(
                QStringLiteral(
                    "price table %1: 'models' (line %2) must be a map of model name to {input, output}")
                    .arg(source)
                    .arg(models.Mark().line + 1));
        PriceTable table;
        for (const auto &entry : models) {
            const QString name = QString::fromStdString(entry.first.as<std::string>());
            const QString where = QStringLiteral("price table %1: models.%2").arg(source, name);
            if (!entry.second.IsMap())
                return Error(QStringLiteral("%1 (line %2): expected {input: <usd>, output: <usd>}")
                                 .arg(where)
                                 .arg(entry.second.Mark().line + 1));
            const auto in = readPrice(entry.second, "input", where);
            if (!in)
                return in.error();
            const auto out = readPrice(entry.second, "output", where);
            if (!out)
                return out.error();
            table.set(name, {*in, *out});
        }
        return table;
    } catch (const YAML::Exception &e) {
        return Error(QStringLiteral("price table %1: line %2: %3")
                         .arg(source)
                         .arg(e.mark.line + 1)
                         .arg(QString::fromStdString(e.msg)));
    }
}

std::optional<ModelPrice> PriceTable::find(const QString &model) const
{
    const ModelPrice *best = nullptr;
    qsizetype bestLen = -1;
    for (auto it = m_prices.constBegin(); it != m_prices.constEnd(); ++it) {
        if (model.startsWith(it.key()) && it.key().size() > bestLen) {
            best = &it.value();
            bestLen = it.key().size();
        }
    }
    if (best)
        return *best;
    const auto wildcard = m_prices.constFind(QStringLiteral("*"));
    if (wildcard != m_prices.constEnd())
        return *wildcard;
    return std::nullopt;
}

CostMeter::CostMeter(PriceTable prices, CostBudget budget, const Clock *clock)
    : m_prices(std::move(prices))
    , m_budget(budget)
    , m_clock(clock)
{
}

double CostMeter::costOf(const QString &model, int promptTokens, int completionTokens) const
{
    const auto price = m_prices.find(model);
    if (!price)
        return 0.0;
    return (price->inputPerMTok * promptTokens + price->outputPerMTok * completionTokens) / 1e6;
}

Result<void> CostMeter::checkBudget(const QString &model, int estimatedPromptTokens,
                                    int maxOutputTokens) const
{
    const double worst = costOf(model, estimatedPromptTokens, maxOutputTokens);
    const double today = todayTotal();
    if (m_budget.dailyUsd > 0 && today + worst > m_budget.dailyUsd)
        return Error(QStringLiteral("budget spent: $%1 of the $%2 daily LLM budget used today; this call to "
                                    "%3 could cost up to $%4")
                         .arg(today, 0, 'f', 4)
                         .arg(m_budget.dailyUsd, 0, 'f', 2)
                         .arg(model)
                         .arg(worst, 0, 'f', 4));
    if (m_budget.sessionUsd > 0 && m_session + worst > m_budget.sessionUsd)
        return Error(
            QStringLiteral(
                "budget spent: $%1 of the $%2 session LLM budget used; this call to %3 could cost up to $%4")
                .arg(m_session, 0, 'f', 4)
                .arg(m_budget.sessionUsd, 0, 'f', 2)
                .arg(model)
                .arg(worst, 0, 'f', 4));
    return {};
}

double CostMeter::record(const QString &model, int promptTokens, int completionTokens)
{
    const double cost = costOf(model, promptTokens, completionTokens);
    m_session += cost;
    m_perDay[today()] += cost;
    return cost;
}

double CostMeter::todayTotal() const
{
    return m_perDay.value(today(), 0.0);
}

qint64 CostMeter::today() const
{
    return m_clock->nowMs() / kMsPerDay;
}

} // namespace vigil::llm
