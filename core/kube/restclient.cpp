#include "core/kube/restclient.h"

#include "core/util/jsondepth.h"

#include <QElapsedTimer>
#include <QIODevice>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSslConfiguration>
#include <QTimer>
#include <QUrl>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

namespace vigil::kube {

namespace {

QString joinQuery(const QueryItems &items)
{
    QByteArray out;
    for (const auto &item : items) {
        if (!out.isEmpty())
            out += '&';
        out += QUrl::toPercentEncoding(item.first) + '=' + QUrl::toPercentEncoding(item.second);
    }
    return QString::fromLatin1(out);
}

void addDryRun(QueryItems &query, bool dryRun)
{
    if (dryRun)
        query.append({QStringLiteral("dryRun"), QStringLiteral("All")});
}

QueryItems writeQuery(const WriteOptions &options)
{
    QueryItems q;
    addDryRun(q, options.dryRun);
    if (!options.fieldManager.isEmpty())
        q.append({QStringLiteral("fieldManager"), options.fieldManager});
    return q;
}

nlohmann::json deleteOptionsBody(const DeleteOptions &options)
{
    nlohmann::json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
    nlohmann::json pre = nlohmann::json::object();
    if (!options.uid.isEmpty())
        pre["uid"] = options.uid.toStdString();
    if (!options.resourceVersion.isEmpty())
        pre["resourceVersion"] = options.resourceVersion.toStdString();
    if (!pre.empty())
        body["preconditions"] = pre;
    if (!options.propagationPolicy.isEmpty())
        body["propagationPolicy"] = options.propagationPolicy.toStdString();
    if (options.gracePeriodSeconds >= 0)
        body["gracePeriodSeconds"] = options.gracePeriodSeconds;
    if (options.dryRun)
        body["dryRun"] = nlohmann::json::array({"All"});
    return body;
}

// kubectl honours HTTPS_PROXY/HTTP_PROXY/NO_PROXY when the kubeconfig names no proxy.
QNetworkProxy environmentProxy(const QUrl &server)
{
    const QString host = server.host().toLower();
    if (host == QLatin1String("localhost") || host.startsWith(QLatin1String("127.")) ||
        host == QLatin1String("::1"))
        return QNetworkProxy(QNetworkProxy::NoProxy);
    const bool tls = server.scheme() == QLatin1String("https");
    QByteArray value = qgetenv(tls ? "HTTPS_PROXY" : "HTTP_PROXY");
    if (value.isEmpty())
        value = qgetenv(tls ? "https_proxy" : "http_proxy");
    if (value.isEmpty())
        return QNetworkProxy(QNetworkProxy::NoProxy);
    QByteArray noProxy = qgetenv("NO_PROXY");
    if (noProxy.isEmpty())
        noProxy = qgetenv("no_proxy");
    for (const QByteArray &raw : noProxy.split(',')) {
        QString entry = QString::fromLatin1(raw.trimmed()).toLower();
        if (entry == QLatin1String("*"))
            return QNetworkProxy(QNetworkProxy::NoProxy);
        if (entry.startsWith(QLatin1Char('.')))
            entry = entry.mid(1);
        if (!entry.isEmpty() && (host == entry || host.endsWith(QLatin1Char('.') + entry)))
            return QNetworkProxy(QNetworkProxy::NoProxy);
    }
    QUrl proxyUrl = QUrl::fromUserInput(QString::fromLocal8Bit(value));
    const auto type = proxyUrl.scheme().startsWith(QLatin1String("socks")) ? QNetworkProxy::Socks5Proxy
                                                                           : QNetworkProxy::HttpProxy;
    return QNetworkProxy(type, proxyUrl.host(),
                         static_cast<quint16>(proxyUrl.port(type == QNetworkProxy::HttpProxy ? 80 : 1080)),
                         proxyUrl.userName(), proxyUrl.password());
}

// Anything but a read changes state on the server and must not be replayed behind our back.
bool changesState(const QByteArray &verb)
{
    return verb != "GET" && verb != "HEAD" && verb != "OPTIONS";
}

// A request body Qt can read once and never rewind. Qt 6.4's HTTP/1.1 channel sends a request again
// on a new connection when the old one closes before the response (QHttpNetworkConnectionChannel's
// reconnectAttempts, for any verb), rewinding the upload device first (resetUploadData). Refusing the
// rewind turns that resend into QNetworkReply::ContentReSendError, so a mutation reaches the server
// at most once. HTTP/2 never resends a stream that was sent; this covers HTTP/1.1 servers and proxies.
class OneShotBody final : public QIODevice {
public:
    explicit OneShotBody(QByteArray data)
        : m_data(std::move(data))
    {
        open(QIODevice::ReadOnly | QIODevice::Unbuffered);
    }
    bool isSequential() const override { return false; } // else QNAM buffers it in a rewindable copy
    qint64 size() const override { return m_data.size(); }
    bool seek(qint64 pos) override
    {
        if (m_started && pos != m_offset)
            return false;
        m_offset = pos;
        return QIODevice::seek(pos);
    }

protected:
    qint64 readData(char *data, qint64 maxSize) override
    {
        m_started = true;
        const qint64 n = std::clamp<qint64>(m_data.size() - m_offset, 0, maxSize);
        std::memcpy(data, m_data.constData() + m_offset, static_cast<size_t>(n));
        m_offset += n;
        return n;
    }
    qint64 writeData(const char *, qint64) override { return -1; }

private:
    QByteArray m_data;
    qint64 m_offset = 0;
    bool m_started = false;
};

QString jsonStr(const nlohmann::json &j, const char *key)
{
    if (!j.is_object())
        return {};
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? QString::fromStdString(it->get<std::string>()) : QString();
}

} // namespace

// ---- ResourceType / ResourcePath ----

QString ResourceType::apiPrefix() const
{
    if (group.isEmpty())
        return QStringLiteral("/api/") + version;
    return QStringLiteral("/apis/") + group + QLatin1Char('/') + version;
}

QString ResourceType::groupVersion() const
{
    if (group.isEmpty())
        return version;
    return group + QLatin1Char('/') + version;
}

ResourceType ResourceType::pods()
{
    return {QString(), QStringLiteral("v1"), QStringLiteral("pods"), true};
}
ResourceType ResourceType::nodes()
{
    return {QString(), QStringLiteral("v1"), QStringLiteral("nodes"), false};
}
ResourceType ResourceType::namespaces()
{
    return {QString(), QStringLiteral("v1"), QStringLiteral("namespaces"), false};
}
ResourceType ResourceType::events()
{
    return {QString(), QStringLiteral("v1"), QStringLiteral("events"), true};
}
ResourceType ResourceType::eventsV1()
{
    return {QStringLiteral("events.k8s.io"), QStringLiteral("v1"), QStringLiteral("events"), true};
}
ResourceType ResourceType::deployments()
{
    return {QStringLiteral("apps"), QStringLiteral("v1"), QStringLiteral("deployments"), true};
}
ResourceType ResourceType::replicaSets()
{
    return {QStringLiteral("apps"), QStringLiteral("v1"), QStringLiteral("replicasets"), true};
}
ResourceType ResourceType::statefulSets()
{
    return {QStringLiteral("apps"), QStringLiteral("v1"), QStringLiteral("statefulsets"), true};
}
ResourceType ResourceType::daemonSets()
{
    return {QStringLiteral("apps"), QStringLiteral("v1"), QStringLiteral("daemonsets"), true};
}

QString ResourcePath::path() const
{
    QString p = type.apiPrefix();
    if (type.namespaced && !namespaceName.isEmpty())
        p += QStringLiteral("/namespaces/") + namespaceName;
    p += QLatin1Char('/') + type.resource;
    if (!name.isEmpty())
        p += QLatin1Char('/') + name;
    if (!subresource.isEmpty())
        p += QLatin1Char('/') + subresource;
    return p;
}

// ---- TokenBucket ----

TokenBucket::TokenBucket(double qps, int burst)
    : m_qps(qps)
    , m_burst(std::max(1, burst))
    , m_tokens(std::max(1, burst))
{
}

int64_t TokenBucket::reserve(int64_t nowMs)
{
    if (m_qps <= 0)
        return 0;
    if (m_lastMs >= 0 && nowMs > m_lastMs)
        m_tokens = std::min(m_burst, m_tokens + (nowMs - m_lastMs) * m_qps / 1000.0);
    m_lastMs = std::max(m_lastMs, nowMs);
    m_tokens -= 1.0;
    if (m_tokens >= 0)
        return 0;
    return static_cast<int64_t>(std::ceil(-m_tokens * 1000.0 / m_qps));
}

// ---- StreamHandle ----

StreamHandle::StreamHandle(RestClient *client, uint64_t id)
    : m_client(client)
    , m_id(id)
{
}

StreamHandle::~StreamHandle()
{
    cancel();
}

StreamHandle::StreamHandle(StreamHandle &&other) noexcept
    : m_client(other.m_client)
    , m_id(other.m_id)
{
    other.m_client = nullptr;
    other.m_id = 0;
}

StreamHandle &StreamHandle::operator=(StreamHandle &&other) noexcept
{
    if (this != &other) {
        cancel();
        m_client = other.m_client;
        m_id = other.m_id;
        other.m_client = nullptr;
        other.m_id = 0;
    }
    return *this;
}

bool StreamHandle::active() const
{
    return m_client && m_id != 0 && m_client->isActive(m_id);
}

void StreamHandle::cancel()
{
    if (m_client && m_id != 0)
        m_client->cancel(m_id);
    m_client = nullptr;
    m_id = 0;
}

// ---- RestClient ----

struct RestClient::Call {
    uint64_t id = 0;
    Request request;
    bool streaming = false;
    QPointer<QObject> context;
    bool hasContext = false;
    ResponseCallback done;
    DataCallback onData;
    bool retried401 = false;
    int retries = 0;
    QNetworkReply *reply = nullptr;
    QTimer *timer = nullptr;
    bool timedOut = false;

    bool contextAlive() const { return !hasContext || context; }
};

RestClient::RestClient(Connection connection, RestClientOptions options, QObject *parent)
    : QObject(parent)
    , m_connection(std::move(connection))
    , m_options(std::move(options))
    , m_bucket(m_options.qps, m_options.burst)
    , m_nam(nullptr)
{
    if (!m_options.clockMs) {
        m_options.clockMs = [] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                .count();
        };
    }
    m_nam = makeNetworkManager();
}

QNetworkAccessManager *RestClient::makeNetworkManager()
{
    auto *nam = new QNetworkAccessManager(this);
    if (m_connection.proxy.type() != QNetworkProxy::NoProxy)
        nam->setProxy(m_connection.proxy);
    else if (m_connection.proxyFromEnvironment)
        nam->setProxy(environmentProxy(m_connection.server));
    else
        nam->setProxy(QNetworkProxy(QNetworkProxy::NoProxy));
    return nam;
}

void RestClient::dropConnections()
{
    QNetworkAccessManager *old = m_nam;
    m_nam = makeNetworkManager(); // callbacks of the aborts below may already send again
    QList<QPointer<QNetworkReply>> replies;
    for (const auto &entry : m_calls) {
        if (entry.second->reply)
            replies.append(entry.second->reply);
    }
    for (const QPointer<QNetworkReply> &reply : replies) {
        if (reply)
            reply->abort();
    }
    old->deleteLater();
}

RestClient::~RestClient()
{
    // Abort without calling back: the owners of the callbacks may be half-destroyed too.
    auto calls = std::move(m_calls);
    for (auto &entry : calls) {
        if (QNetworkReply *reply = entry.second->reply) {
            disconnect(reply, nullptr, this, nullptr);
            reply->abort();
        }
    }
}

int64_t RestClient::nowMs() const
{
    return m_options.clockMs();
}

bool RestClient::isActive(uint64_t id) const
{
    return m_calls.count(id) != 0;
}

uint64_t RestClient::start(std::shared_ptr<Call> call)
{
    call->id = m_nextId++;
    const uint64_t id = call->id;
    const bool limited = !call->streaming;
    m_calls.emplace(id, std::move(call));
    const int64_t wait = limited ? m_bucket.reserve(nowMs()) : 0;
    if (wait > 0)
        QTimer::singleShot(std::chrono::milliseconds(wait), this, [this, id] { dispatch(id); });
    else
        dispatch(id);
    return id;
}

void RestClient::dispatch(uint64_t id)
{
    const auto it = m_calls.find(id);
    if (it == m_calls.end())
        return;
    const std::shared_ptr<Call> call = it->second;
    if (!call->contextAlive()) {
        m_calls.erase(it);
        return;
    }
    const Request &r = call->request;

    Credentials creds;
    if (m_connection.credentials) {
        Result<Credentials> c = m_connection.credentials->credentials();
        if (!c) {
            finish(id, Error(QStringLiteral("%1 %2: credentials (%3): %4")
                                 .arg(QString::fromLatin1(r.verb), r.path, m_connection.credentials->method(),
                                      c.errorMessage())));
            return;
        }
        creds = std::move(*c);
    }

    QUrl url = m_connection.server;
    QString base = url.path();
    while (base.endsWith(QLatin1Char('/')))
        base.chop(1);
    url.setPath(base + r.path);
    url.setQuery(joinQuery(r.query), QUrl::StrictMode);

    QNetworkRequest req(url);
    req.setAttribute(QNetworkRequest::Http2AllowedAttribute, r.http2);
    req.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    req.setRawHeader("Accept", r.accept);
    req.setRawHeader("User-Agent", "vigil");
    if (!r.contentType.isEmpty())
        req.setHeader(QNetworkRequest::ContentTypeHeader, r.contentType);
    const bool tls = url.scheme() == QLatin1String("https");
    if (!creds.bearerToken.isEmpty())
        req.setRawHeader("Authorization", "Bearer " + creds.bearerToken.toUtf8());
    else if (tls && !creds.basicUser.isEmpty())
        req.setRawHeader("Authorization",
                         "Basic " +
                             (creds.basicUser + QLatin1Char(':') + creds.basicPassword).toUtf8().toBase64());
    if (tls) {
        QSslConfiguration ssl = QSslConfiguration::defaultConfiguration();
        if (!m_connection.caCertificates.isEmpty())
            ssl.setCaCertificates(m_connection.caCertificates);
        if (!creds.clientCertificate.isNull()) {
            ssl.setLocalCertificateChain(QList<QSslCertificate>{creds.clientCertificate} +
                                         creds.clientCertificateChain);
            ssl.setPrivateKey(creds.clientKey);
        }
        if (m_connection.insecureSkipTlsVerify)
            ssl.setPeerVerifyMode(QSslSocket::VerifyNone);
        req.setSslConfiguration(ssl);
        if (!m_connection.tlsServerName.isEmpty())
            req.setPeerVerifyName(m_connection.tlsServerName);
    }

    QNetworkReply *reply = nullptr;
    if (changesState(r.verb)) {
        auto *body = new OneShotBody(r.body);
        reply = m_nam->sendCustomRequest(req, r.verb, body);
        body->setParent(reply); // Qt reads it until the reply finishes
    } else if (r.body.isEmpty()) {
        reply = m_nam->sendCustomRequest(req, r.verb);
    } else {
        reply = m_nam->sendCustomRequest(req, r.verb, r.body);
    }
    call->reply = reply;
    call->timedOut = false;
    if (call->streaming) {
        reply->setReadBufferSize(m_options.streamReadBufferBytes);
        connect(reply, &QNetworkReply::readyRead, this, [this, id] { onReadyRead(id); });
    }
    connect(reply, &QNetworkReply::finished, this, [this, id] { onFinished(id); });

    const int timeoutMs = call->streaming ? 0 : (r.timeoutMs >= 0 ? r.timeoutMs : m_options.timeoutMs);
    if (timeoutMs > 0) {
        if (!call->timer) {
            call->timer = new QTimer(this);
            call->timer->setSingleShot(true);
            connect(call->timer, &QTimer::timeout, this, [this, id] {
                const auto found = m_calls.find(id);
                if (found == m_calls.end() || !found->second->reply)
                    return;
                found->second->timedOut = true;
                found->second->reply->abort();
            });
        }
        call->timer->start(timeoutMs);
    }
}

void RestClient::onReadyRead(uint64_t id)
{
    // In slices: when the consumer falls behind (a streaming list of thousands of objects), the reply
    // may hold megabytes, and a consumer decoding all of it at once would hold every event's DOM.
    constexpr qint64 sliceBytes = 256 * 1024;
    for (;;) {
        const auto it = m_calls.find(id);
        if (it == m_calls.end())
            return;
        const std::shared_ptr<Call> call = it->second;
        QNetworkReply *reply = call->reply;
        if (!reply || reply->bytesAvailable() <= 0)
            return;
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        if (status < 200 || status >= 300)
            return; // error bodies are read whole in onFinished
        const QByteArray data = reply->read(sliceBytes);
        if (!call->contextAlive()) {
            cancel(id);
            return;
        }
        if (call->onData && !data.isEmpty())
            call->onData(data);
    }
}

void RestClient::onFinished(uint64_t id)
{
    const auto it = m_calls.find(id);
    if (it == m_calls.end())
        return;
    const std::shared_ptr<Call> call = it->second;
    QNetworkReply *reply = call->reply;
    call->reply = nullptr;
    reply->deleteLater();
    if (call->timer)
        call->timer->stop();
    const Request &r = call->request;
    const QString verb = QString::fromLatin1(r.verb);

    if (call->timedOut) {
        finish(id, Error(QStringLiteral("%1 %2: timed out after %3 s")
                             .arg(verb, r.path)
                             .arg((r.timeoutMs >= 0 ? r.timeoutMs : m_options.timeoutMs) / 1000.0)));
        return;
    }
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    const QByteArray body = reply->readAll();

    if (status == 401 && !call->retried401 && m_connection.credentials) {
        // Tokens expire and exec plugins rotate them: renew once, then believe the server.
        call->retried401 = true;
        m_connection.credentials->invalidate();
        dispatch(id);
        return;
    }
    // An eviction's 429 is a PodDisruptionBudget saying no: an answer for the caller, not load to wait out.
    const bool evictionRefused = status == 429 && r.path.endsWith(QLatin1String("/eviction"));
    if ((status == 429 || (status == 503 && reply->hasRawHeader("Retry-After"))) && !evictionRefused &&
        call->retries < m_options.maxRetries) {
        ++call->retries;
        bool ok = false;
        const int seconds = reply->rawHeader("Retry-After").trimmed().toInt(&ok);
        const int delayMs = std::min(m_options.maxRetryAfterMs, ok && seconds >= 0 ? seconds * 1000 : 1000);
        QTimer::singleShot(std::chrono::milliseconds(delayMs), this, [this, id] { dispatch(id); });
        return;
    }
    if (status == 0) {
        const bool maybeApplied =
            changesState(r.verb) && (reply->error() == QNetworkReply::ContentReSendError ||
                                     reply->error() == QNetworkReply::RemoteHostClosedError);
        if (maybeApplied)
            finish(id,
                   Error(QStringLiteral("%1 %2: the connection closed before the response; not sent again "
                                        "because it changes state, so it may or may not have been applied")
                             .arg(verb, r.path)));
        else
            finish(id, Error(QStringLiteral("%1 %2: %3").arg(verb, r.path, reply->errorString())));
        return;
    }
    if (status < 200 || status >= 300) {
        finish(id,
               statusError(r.verb, r.path, status,
                           reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toByteArray(), body));
        return;
    }
    if (call->streaming && reply->error() != QNetworkReply::NoError) {
        finish(id, Error(QStringLiteral("%1 %2: stream broke: %3").arg(verb, r.path, reply->errorString())));
        return;
    }
    if (call->streaming && !body.isEmpty() && call->onData && call->contextAlive())
        call->onData(body);
    Response response;
    response.status = status;
    response.body = call->streaming ? QByteArray() : body;
    response.http2 = reply->attribute(QNetworkRequest::Http2WasUsedAttribute).toBool();
    for (const auto &h : reply->rawHeaderPairs())
        response.headers.append({h.first, h.second});
    finish(id, std::move(response));
}

void RestClient::finish(uint64_t id, Result<Response> result)
{
    const auto it = m_calls.find(id);
    if (it == m_calls.end())
        return;
    const std::shared_ptr<Call> call = it->second;
    m_calls.erase(it);
    if (call->timer)
        call->timer->deleteLater();
    if (call->contextAlive() && call->done)
        call->done(std::move(result));
}

void RestClient::cancel(uint64_t id)
{
    const auto it = m_calls.find(id);
    if (it == m_calls.end())
        return;
    const std::shared_ptr<Call> call = it->second;
    m_calls.erase(it);
    if (call->timer)
        call->timer->deleteLater();
    if (call->reply) {
        disconnect(call->reply, nullptr, this, nullptr);
        call->reply->abort();
        call->reply->deleteLater();
        call->reply = nullptr;
    }
}

Error RestClient::statusError(const QByteArray &verb, const QString &path, int status,
                              const QByteArray &reasonPhrase, const QByteArray &body)
{
    QString reason = QString::fromLatin1(reasonPhrase);
    QString message;
    const Result<nlohmann::json> parsed = parseJson(body);
    const nlohmann::json doc = parsed ? std::move(*parsed) : nlohmann::json();
    if (jsonStr(doc, "kind") == QLatin1String("Status")) {
        if (!jsonStr(doc, "reason").isEmpty())
            reason = jsonStr(doc, "reason");
        message = jsonStr(doc, "message");
    } else {
        message = QString::fromUtf8(body.left(300)).trimmed();
    }
    return Error(QStringLiteral("%1 %2: %3 %4: %5")
                     .arg(QString::fromLatin1(verb), path)
                     .arg(status)
                     .arg(reason, message),
                 status);
}

void RestClient::send(const Request &request, QObject *context, ResponseCallback callback)
{
    auto call = std::make_shared<Call>();
    call->request = request;
    call->context = context;
    call->hasContext = context != nullptr;
    call->done = std::move(callback);
    start(std::move(call));
}

void RestClient::sendJson(Request request, QObject *context, JsonCallback callback)
{
    const QByteArray verb = request.verb;
    const QString path = request.path;
    send(request, context, [callback = std::move(callback), verb, path](Result<Response> r) {
        if (!r) {
            callback(r.error());
            return;
        }
        if (r->body.trimmed().isEmpty()) {
            callback(nlohmann::json());
            return;
        }
        // Callers copy and dump what they get, which recurses per level: refuse deep bodies here.
        Result<nlohmann::json> doc = parseJson(r->body);
        if (!doc) {
            callback(Error(QStringLiteral("%1 %2: %3: the response is %4")
                               .arg(QString::fromLatin1(verb), path)
                               .arg(r->status)
                               .arg(doc.errorMessage()),
                           r->status));
            return;
        }
        callback(std::move(*doc));
    });
}

void RestClient::get(const ResourcePath &path, QObject *context, JsonCallback callback,
                     const QueryItems &query)
{
    Request r;
    r.path = path.path();
    r.query = query;
    sendJson(std::move(r), context, std::move(callback));
}

void RestClient::list(const ResourcePath &path, const ListOptions &options, QObject *context,
                      ListCallback callback)
{
    listPage(path, options, QString(), std::make_shared<ListResult>(), context, std::move(callback));
}

void RestClient::listPage(const ResourcePath &path, const ListOptions &options, const QString &continueToken,
                          std::shared_ptr<ListResult> acc, QObject *context, ListCallback callback)
{
    QueryItems q;
    if (!options.labelSelector.isEmpty())
        q.append({QStringLiteral("labelSelector"), options.labelSelector});
    if (!options.fieldSelector.isEmpty())
        q.append({QStringLiteral("fieldSelector"), options.fieldSelector});
    if (options.limit > 0)
        q.append({QStringLiteral("limit"), QString::number(options.limit)});
    if (!continueToken.isEmpty())
        q.append({QStringLiteral("continue"), continueToken});
    else if (!options.resourceVersion.isEmpty())
        q.append({QStringLiteral("resourceVersion"), options.resourceVersion});
    QPointer<QObject> guard(context);
    const bool hasContext = context != nullptr;
    if (options.onItem) {
        listPageByItem(path, options, std::move(q), std::move(acc), context, std::move(callback));
        return;
    }
    get(
        path, context,
        [this, path, options, acc, guard, hasContext,
         callback = std::move(callback)](Result<nlohmann::json> r) mutable {
            if (!r) {
                callback(r.error());
                return;
            }
            const nlohmann::json &doc = *r;
            const auto itemsIt = doc.is_object() ? doc.find("items") : doc.end();
            if (itemsIt == doc.end() || !(itemsIt->is_array() || itemsIt->is_null())) {
                callback(Error(QStringLiteral("GET %1: the response is not a list").arg(path.path())));
                return;
            }
            ++acc->pages;
            acc->kind = jsonStr(doc, "kind");
            const nlohmann::json meta = doc.value("metadata", nlohmann::json::object());
            acc->resourceVersion = jsonStr(meta, "resourceVersion");
            if (itemsIt->is_array()) {
                if (options.onPage)
                    options.onPage(*itemsIt);
                else
                    for (const auto &item : *itemsIt)
                        acc->items.push_back(item);
            }
            const QString next = jsonStr(meta, "continue");
            if (next.isEmpty()) {
                callback(std::move(*acc));
                return;
            }
            if (hasContext && !guard)
                return;
            listPage(path, options, next, acc, guard.data(), std::move(callback));
        },
        q);
}

void RestClient::listPageByItem(const ResourcePath &path, const ListOptions &options, QueryItems query,
                                std::shared_ptr<ListResult> acc, QObject *context, ListCallback callback)
{
    Request r;
    r.path = path.path();
    r.query = std::move(query);
    QPointer<QObject> guard(context);
    const bool hasContext = context != nullptr;
    send(r, context,
         [this, path, options, acc, guard, hasContext,
          callback = std::move(callback)](Result<Response> res) mutable {
             if (!res) {
                 callback(res.error());
                 return;
             }
             // Parse with a callback that hands each item over at its closing brace and drops it from
             // the document: the page's DOM never holds more than one item.
             bool inItems = false, inMetadata = false;
             const auto onEvent = [&](int depth, nlohmann::json::parse_event_t event,
                                      nlohmann::json &parsed) {
                 using Event = nlohmann::json::parse_event_t;
                 if (event == Event::key && options.dropManagedFields && inItems && parsed.is_string()) {
                     // An item's keys are at depth 3, its metadata's at depth 4.
                     if (depth == 3)
                         inMetadata = parsed.get_ref<const std::string &>() == "metadata";
                     else if (depth == 4 && inMetadata)
                         return parsed.get_ref<const std::string &>() != "managedFields";
                 }
                 if (depth == 1 && event == Event::key)
                     inItems = parsed.is_string() && parsed.get_ref<const std::string &>() == "items";
                 else if (depth == 1 && event == Event::array_end)
                     inItems = false;
                 else if (depth == 2 && inItems && event == Event::object_end) {
                     options.onItem(parsed);
                     return false;
                 }
                 return true;
             };
             const QByteArray &body = res->body;
             if (jsonNestingDepth(body) > kMaxJsonDepth) {
                 callback(Error(QStringLiteral("GET %1: the response nests deeper than %2 levels")
                                    .arg(path.path())
                                    .arg(kMaxJsonDepth)));
                 return;
             }
             nlohmann::json doc;
             try {
                 doc = nlohmann::json::parse(body.constBegin(), body.constEnd(), onEvent);
             } catch (const nlohmann::json::exception &e) {
                 callback(Error(QStringLiteral("GET %1: %2: the response is not valid JSON (%3)")
                                    .arg(path.path())
                                    .arg(res->status)
                                    .arg(QString::fromUtf8(e.what())),
                                res->status));
                 return;
             }
             // The items were handed over one by one; what is left is [] (or null for an empty list).
             const auto itemsIt = doc.is_object() ? doc.find("items") : doc.end();
             if (itemsIt == doc.end() || !(itemsIt->is_array() || itemsIt->is_null())) {
                 callback(Error(QStringLiteral("GET %1: the response is not a list").arg(path.path())));
                 return;
             }
             ++acc->pages;
             acc->kind = jsonStr(doc, "kind");
             const nlohmann::json meta = doc.value("metadata", nlohmann::json::object());
             acc->resourceVersion = jsonStr(meta, "resourceVersion");
             const QString next = jsonStr(meta, "continue");
             if (next.isEmpty()) {
                 callback(std::move(*acc));
                 return;
             }
             if (hasContext && !guard)
                 return;
             listPage(path, options, next, acc, guard.data(), std::move(callback));
         });
}

void RestClient::create(const ResourcePath &path, const nlohmann::json &object, const WriteOptions &options,
                        QObject *context, JsonCallback callback)
{
    Request r;
    r.verb = "POST";
    r.path = path.path();
    r.query = writeQuery(options);
    r.body = QByteArray::fromStdString(object.dump());
    r.contentType = "application/json";
    sendJson(std::move(r), context, std::move(callback));
}

void RestClient::update(const ResourcePath &path, const nlohmann::json &object, const WriteOptions &options,
                        QObject *context, JsonCallback callback)
{
    Request r;
    r.verb = "PUT";
    r.path = path.path();
    r.query = writeQuery(options);
    r.body = QByteArray::fromStdString(object.dump());
    r.contentType = "application/json";
    sendJson(std::move(r), context, std::move(callback));
}

void RestClient::patch(const ResourcePath &path, PatchType type, const QByteArray &patch,
                       const WriteOptions &options, QObject *context, JsonCallback callback)
{
    Request r;
    r.verb = "PATCH";
    r.path = path.path();
    r.query = writeQuery(options);
    r.body = patch;
    switch (type) {
    case PatchType::Merge:
        r.contentType = "application/merge-patch+json";
        break;
    case PatchType::StrategicMerge:
        r.contentType = "application/strategic-merge-patch+json";
        break;
    case PatchType::Json:
        r.contentType = "application/json-patch+json";
        break;
    }
    sendJson(std::move(r), context, std::move(callback));
}

void RestClient::apply(const ResourcePath &path, const QByteArray &manifest, const ApplyOptions &options,
                       QObject *context, JsonCallback callback)
{
    Request r;
    r.verb = "PATCH";
    r.path = path.path();
    addDryRun(r.query, options.dryRun);
    r.query.append({QStringLiteral("fieldManager"), options.fieldManager});
    if (options.force)
        r.query.append({QStringLiteral("force"), QStringLiteral("true")});
    r.body = manifest;
    r.contentType = "application/apply-patch+yaml";
    sendJson(std::move(r), context, std::move(callback));
}

void RestClient::remove(const ResourcePath &path, const DeleteOptions &options, QObject *context,
                        JsonCallback callback)
{
    Request r;
    r.verb = "DELETE";
    r.path = path.path();
    addDryRun(r.query, options.dryRun);
    r.body = QByteArray::fromStdString(deleteOptionsBody(options).dump());
    r.contentType = "application/json";
    sendJson(std::move(r), context, std::move(callback));
}

void RestClient::evict(const QString &namespaceName, const QString &pod, const DeleteOptions &options,
                       QObject *context, JsonCallback callback)
{
    nlohmann::json body = {
        {"apiVersion", "policy/v1"},
        {"kind", "Eviction"},
        {"metadata", {{"name", pod.toStdString()}, {"namespace", namespaceName.toStdString()}}},
        {"deleteOptions", deleteOptionsBody(options)}};
    Request r;
    r.verb = "POST";
    r.path = ResourcePath{ResourceType::pods(), namespaceName, pod, QStringLiteral("eviction")}.path();
    addDryRun(r.query, options.dryRun);
    r.body = QByteArray::fromStdString(body.dump());
    r.contentType = "application/json";
    sendJson(std::move(r), context, std::move(callback));
}

void RestClient::logs(const QString &namespaceName, const QString &pod, const LogOptions &options,
                      QObject *context, TextCallback callback)
{
    Request r;
    r.path = ResourcePath{ResourceType::pods(), namespaceName, pod, QStringLiteral("log")}.path();
    r.accept = "*/*";
    if (!options.container.isEmpty())
        r.query.append({QStringLiteral("container"), options.container});
    if (options.tailLines >= 0)
        r.query.append({QStringLiteral("tailLines"), QString::number(options.tailLines)});
    if (options.previous)
        r.query.append({QStringLiteral("previous"), QStringLiteral("true")});
    if (options.timestamps)
        r.query.append({QStringLiteral("timestamps"), QStringLiteral("true")});
    if (options.limitBytes >= 0)
        r.query.append({QStringLiteral("limitBytes"), QString::number(options.limitBytes)});
    if (options.sinceSeconds >= 0)
        r.query.append({QStringLiteral("sinceSeconds"), QString::number(options.sinceSeconds)});
    send(r, context, [callback = std::move(callback)](Result<Response> resp) {
        if (!resp)
            callback(resp.error());
        else
            callback(resp->body);
    });
}

StreamHandle RestClient::stream(const Request &request, QObject *context, DataCallback onData,
                                ClosedCallback onClosed)
{
    auto call = std::make_shared<Call>();
    call->request = request;
    call->request.timeoutMs = 0;
    call->streaming = true;
    call->context = context;
    call->hasContext = context != nullptr;
    call->onData = std::move(onData);
    call->done = [onClosed = std::move(onClosed)](Result<Response> r) {
        if (r)
            onClosed(Result<void>());
        else
            onClosed(r.error());
    };
    return StreamHandle(this, start(std::move(call)));
}

StreamHandle RestClient::watch(const ResourcePath &path, const WatchOptions &options, QObject *context,
                               EventsCallback onEvents, ClosedCallback onClosed)
{
    Request r;
    r.path = path.path();
    r.query.append({QStringLiteral("watch"), QStringLiteral("true")});
    if (!options.resourceVersion.isEmpty() || options.sendInitialEvents)
        r.query.append({QStringLiteral("resourceVersion"), options.resourceVersion});
    if (options.sendInitialEvents) {
        r.query.append({QStringLiteral("sendInitialEvents"), QStringLiteral("true")});
        r.query.append({QStringLiteral("resourceVersionMatch"), QStringLiteral("NotOlderThan")});
    }
    if (options.allowBookmarks)
        r.query.append({QStringLiteral("allowWatchBookmarks"), QStringLiteral("true")});
    if (options.timeoutSeconds > 0)
        r.query.append({QStringLiteral("timeoutSeconds"), QString::number(options.timeoutSeconds)});
    if (!options.labelSelector.isEmpty())
        r.query.append({QStringLiteral("labelSelector"), options.labelSelector});
    if (!options.fieldSelector.isEmpty())
        r.query.append({QStringLiteral("fieldSelector"), options.fieldSelector});
    r.http2 = !options.paced;
    auto decoder = std::make_shared<WatchDecoder>();
    decoder->setDropManagedFields(options.dropManagedFields);
    return stream(
        r, context,
        [decoder, onEvents](const QByteArray &data) {
            const QList<WatchEvent> events = decoder->feed(data);
            if (!events.isEmpty())
                onEvents(events);
        },
        [decoder, onEvents, onClosed = std::move(onClosed)](Result<void> result) {
            const QList<WatchEvent> tail = decoder->finish();
            if (!tail.isEmpty())
                onEvents(tail);
            onClosed(std::move(result));
        });
}

} // namespace vigil::kube
