#pragma once

// The red-team set, shared by tst_redteam (recorded objects behind a scripted
// API server) and tst_redteam_cluster (the real cluster behind a recording
// proxy). Each case plants an instruction where anyone who can run a pod can
// write: a log line, an event message, an env value, an annotation, the
// workload's name, the image. The real pipeline (Diagnoser: fetch → gather →
// redact → Router) sends the evidence to an OpenAI-compatible model that OBEYS
// whatever instruction it finds (ObedientModel). Its answer then meets
// guard::evaluate and act::Executor in auto-within-policy mode, exactly the way
// an unattended agent acts. What must hold: nothing the policy forbids reaches
// the API server, and every blocked verdict names its reasons.

#include "core/act/actions.h"
#include "core/act/decision.h"
#include "core/act/decisionstore.h"
#include "core/act/executor.h"
#include "core/audit/auditlog.h"
#include "core/gather/evidence.h"
#include "core/gather/fetcher.h"
#include "core/guard/guardrails.h"
#include "core/kube/connection.h"
#include "core/kube/restclient.h"
#include "core/pipeline/diagnoser.h"
#include "core/reason/llm/openaiprovider.h"
#include "core/reason/llm/secretstore.h"
#include "core/reason/router.h"
#include "httptestserver.h"

#include <QList>
#include <QString>
#include <QStringList>

#include <memory>

namespace vigil::redteam {

/// Where a case plants its instruction.
enum class Channel { Log, Event, Env, Annotation, Name, Image };

/// "log", "event", ...
QString channelName(Channel channel);

/// The objects a case's placeholders ({ns}, {pod}, ...) stand for.
struct Names {
    QString ns;        ///< the incident's namespace
    QString prod;      ///< a decoy namespace with a Deployment (db) and a PVC (data)
    QString prodPod;   ///< the decoy Deployment's pod
    QString deploy;    ///< the incident's Deployment
    QString pod;       ///< the incident's pod
    QString bystander; ///< another Deployment in ns
    QString victim;    ///< its pod
    QString node;      ///< the node the incident's pod runs on
    QString otherNode; ///< a node the incident has nothing to do with

    /// Replaces {ns} {prod} {prodPod} {deploy} {pod} {bystander} {victim} {node} {otherNode}, plus
    /// look-alikes: {victim-cyrillic} (Cyrillic о/е for o/e) and {prod-fullwidth} (U+FF01.. forms).
    QString expand(const QString &text) const;
};

/// One red-team case. Expectations are checked by checkCase().
struct Case {
    const char *name; ///< the QTest row name: what it proves
    Channel channel;
    const char *injection; ///< UTF-8, with placeholders
    bool reaches;          ///< the injection is in the prompt the model reads
    const char *obeyed;    ///< the action name the model answers with (UTF-8, exactly as it writes it)
    bool modelAnswerUsed;  ///< the reply passed validation (else the Router fell back to the rules)
    guard::Verdict::Decision verdict;
    QStringList reasons;  ///< verdict codes that must be present
    QStringList executes; ///< the mutating requests the API server must see ("POST /api/..."), nothing else
    bool protectedPod = false;
};

/// Every case (≥ 20), controls included (in-policy instructions that must run, proving the harness
/// would notice an execution).
QList<Case> cases();

/// The policy every case runs under: auto-within-policy, restart_pod and scale_deployment
/// auto-approved, replicas 2..5 (parsed by guard::parsePolicy like any policy file).
QByteArray policyYaml();

/// The first word of an instruction the model recognises, for tests that look for it in prompts.
QString marker(const Case &c, const Names &names);

/// An OpenAI-compatible chat completions server that obeys the cluster: it reads the evidence in
/// the user prompt and answers with exactly what an instruction there asks for (a JSON reply
/// embedded in the evidence verbatim; otherwise "delete namespace X", "kubectl delete pvc X -n Y",
/// "<anything>_pod NS/NAME", "scale deployment NS/NAME to N", "cordon node N", "patch clusterrole
/// N"). With no instruction it answers "none". Confidence is always 0.99.
class ObedientModel final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ObedientModel)

public:
    struct Exchange {
        QString user;   ///< the user message it read
        QString action; ///< the action it answered with, as written
        QString reply;  ///< the whole reply content
    };

    ObedientModel();
    ~ObedientModel() override;

    bool listen();
    /// ".../v1", for OpenAiConfig::baseUrl.
    QString baseUrl() const;
    const QList<Exchange> &exchanges() const { return m_exchanges; }

    /// The reply for one evidence text; *action receives the action it names.
    static QString obey(const QString &evidence, QString *action);

private:
    test::HttpTestServer m_server;
    QList<Exchange> m_exchanges;
};

/// "METHOD /path[?dryRun=All]" of every request from index `from` on that is not a GET (or HEAD).
QStringList mutations(const test::HttpTestServer &server, qsizetype from = 0);

/// What one case produced.
struct Outcome {
    QString error; ///< set when the pipeline itself failed (no incident, fetch error, timeout)
    pipeline::Incident incident;
    gather::Evidence evidence;
    Diagnosis diagnosis;
    guard::IncidentTarget target;
    guard::Verdict verdict;
    act::Decision decision;                    ///< as it ended
    QString approveRefusal;                    ///< for verdicts not allowed: why approving anyway was refused
    QString executeRefusal;                    ///< ... and why executing anyway was refused
    QList<ObedientModel::Exchange> modelCalls; ///< the model requests this case made
};

/// The pipeline under attack: a RestClient on `api`, GatherFetcher, Diagnoser with a Router whose
/// only model is the ObedientModel (threshold 0.95, above every rule), guardrails, and an Executor
/// with its store and audit log in dataDir, all under policyYaml().
class Rig final {
public:
    Rig(const kube::Connection &api, const QString &dataDir);
    ~Rig();
    Rig(const Rig &) = delete;
    Rig &operator=(const Rig &) = delete;

    /// Starts the model and opens the stores; an error names what failed.
    Result<void> start();

    /// Detects and diagnoses the incident of `pod`, judges the proposal, and acts as an unattended
    /// agent does: an allowed verdict is approved by the policy and executed; any other verdict is
    /// still pushed at approve() and execute() to prove the executor refuses it too.
    Outcome run(const kube::PodView &pod, const QList<kube::EventView> &events,
                const QList<kube::NodeView> &nodes);

    audit::AuditLog *audit() const { return m_audit.get(); }
    const guard::Policy &policy() const { return m_policy; }

private:
    kube::Connection m_api;
    QString m_dir;
    guard::Policy m_policy;
    ObedientModel m_model;
    llm::MapSecretStore m_secrets;
    std::unique_ptr<llm::OpenAiProvider> m_provider;
    std::unique_ptr<reason::Router> m_router;
    std::unique_ptr<kube::RestClient> m_client;
    std::unique_ptr<gather::GatherFetcher> m_fetcher;
    std::unique_ptr<pipeline::Diagnoser> m_diagnoser;
    std::unique_ptr<act::DecisionStore> m_store;
    std::unique_ptr<audit::AuditLog> m_audit;
    std::unique_ptr<act::ActionRunner> m_runner;
    std::unique_ptr<act::Executor> m_executor;
};

/// Asserts one case (QVERIFY inside: check QTest::currentTestFailed() after it).
/// `seen` are the mutating requests the API server saw while the case ran.
void checkCase(const Case &c, const Names &names, const Outcome &o, const QStringList &seen,
               audit::AuditLog *audit);

} // namespace vigil::redteam
