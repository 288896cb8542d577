#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/ (run from anywhere).

Seeds come from the unit-test fixtures (tests/core/kube/data, the default
policy, the shapes in the unit tests) plus the 100,000-deep inputs every
parser must refuse with an error instead of overflowing the stack.
"""
import hashlib
import json
import pathlib
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fuzz/corpus"
DEEP = 100_000


def write(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def deep_json():
    return {
        "deep-array": "[" * DEEP + "]" * DEEP,
        "deep-array-open": "[" * DEEP,
        "deep-object": '{"a":' * DEEP + "1" + "}" * DEEP,
    }


def deep_yaml():
    return {
        "deep-flow-seq": "[" * DEEP,
        "deep-block-seq": "- " * DEEP + "x\n",
        "deep-flow-map": "{a: " * DEEP + "1" + "}" * DEEP,
        "deep-json-map": '{"a":' * DEEP + "1" + "}" * DEEP,
    }


def kubeconfig(cluster="server: https://k1.example:6443", user="token: abc", ctx="", current="c1"):
    ind = lambda b: "\n" + "".join("    " + l + "\n" for l in b.split("\n")) if b else " {}\n"
    s = "apiVersion: v1\nkind: Config\n"
    if current:
        s += f"current-context: {current}\n"
    s += "clusters:\n- name: k1\n  cluster:" + ind(cluster)
    s += "users:\n- name: u1\n  user:" + ind(user)
    s += "contexts:\n- name: c1\n  context:" + ind("cluster: k1\nuser: u1" + ("\n" + ctx if ctx else ""))
    return s


def seed_kubeconfig():
    t = "kubeconfig"
    write(t, "token", kubeconfig())
    write(t, "token-file", kubeconfig(user="tokenFile: token.txt"))
    write(t, "basic-auth", kubeconfig(user="username: admin\npassword: secret"))
    write(t, "client-cert-data", kubeconfig(user="client-certificate-data: TUlJQgo=\nclient-key-data: TUlJQgo="))
    write(t, "client-cert-files", kubeconfig(user="client-certificate: certs/u.crt\nclient-key: certs/u.key"))
    write(t, "ca-data", kubeconfig(cluster="server: https://k1:6443\ncertificate-authority-data: TUlJQgo="))
    write(t, "insecure", kubeconfig(cluster="server: https://k1:6443\ninsecure-skip-tls-verify: true"))
    write(t, "tls-server-name", kubeconfig(cluster="server: https://10.0.0.1:6443\ntls-server-name: kubernetes"))
    write(t, "exec-v1", kubeconfig(user="exec:\n  command: my-plugin\n  apiVersion: client.authentication.k8s.io/v1\n"
                                   "  args: [--a, b]\n  env:\n  - name: X\n    value: y\n  interactiveMode: Never\n"
                                   "  provideClusterInfo: true"))
    write(t, "exec-v1beta1-abs", kubeconfig(user="exec:\n  command: /bin/true\n  apiVersion: client.authentication.k8s.io/v1beta1"))
    write(t, "oidc", kubeconfig(user="auth-provider:\n  name: oidc\n  config:\n    client-id: kube\n"
                                "    idp-issuer-url: https://issuer\n    id-token: x.y.z\n    refresh-token: r"))
    write(t, "proxy-http", kubeconfig(cluster="server: https://k1:1\nproxy-url: http://user:pw@proxy.local:3128"))
    write(t, "proxy-socks", kubeconfig(cluster="server: https://k1:1\nproxy-url: socks5://proxy.local"))
    write(t, "proxy-bad", kubeconfig(cluster="server: https://k1:1\nproxy-url: ftp://proxy.local"))
    write(t, "namespace", kubeconfig(ctx="namespace: team-a"))
    write(t, "no-current", kubeconfig(current=""))
    write(t, "missing-server", kubeconfig(cluster="certificate-authority-data: TUlJQgo="))
    write(t, "json-form", json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": "c",
                                      "clusters": [{"name": "k", "cluster": {"server": "https://k:1"}}],
                                      "users": [{"name": "u", "user": {"token": "t"}}],
                                      "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}]}))
    write(t, "aliases", "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\n"
                        "clusters: [*c, *c]\nusers: []\ncontexts: []\n")
    write(t, "wrong-types", "apiVersion: v1\nclusters: {a: 1}\nusers: 7\ncontexts: [1, [2], {name: 3}]\n")
    write(t, "empty", "")
    for name, text in deep_yaml().items():
        write(t, name, text)


def seed_policy():
    t = "policy"
    default = (ROOT / "resources/policy/default-policy.yaml").read_text()
    write(t, "default", default)
    write(t, "suggest-only", "mode: suggest-only\n")
    write(t, "auto", "mode: auto-within-policy\nautoApprove: [create_alert, restart_pod]\n"
                     "allowedActions: [restart_pod, create_alert]\n")
    write(t, "namespaces", "namespaces:\n  allow: ['team-*', 'prod-?']\n  deny: ['*-secret']\n")
    write(t, "kube-system-allow", "namespaces:\n  allow: [kube-system]\n")
    write(t, "scale-out-of-range", "scale:\n  minReplicas: 0\n  maxReplicas: 51\n")
    write(t, "scale-inverted", "scale:\n  minReplicas: 10\n  maxReplicas: 3\n")
    write(t, "confidence", "minConfidence:\n  default: 0.5\n  restart_pod: 1.0\n  cordon_node: 1.5\n")
    write(t, "cooldown", "cooldown:\n  perTarget: 1h30m\nmaxActionsPerHour: 0\n")
    write(t, "labels", "protectedLabels:\n  team: payments\n  vigil.dev/protected: 'false'\n")
    write(t, "unknown-key", "mode: approve\nsurprise: 1\n")
    write(t, "unknown-action", "allowedActions: [delete_namespace]\n")
    write(t, "aliases", "a: &a [restart_pod, restart_pod]\nallowedActions: *a\n")
    write(t, "not-a-map", "- just\n- a list\n")
    for name, text in deep_yaml().items():
        write(t, name, text)


def seed_watchstream():
    t = "watchstream"
    data = ROOT / "tests/core/kube/data"
    objs = {p.stem: json.loads(p.read_text()) for p in sorted(data.glob("*.json"))}
    line = lambda typ, obj: json.dumps({"type": typ, "object": obj}, separators=(",", ":")) + "\n"
    for stem, obj in objs.items():
        write(t, stem, line("ADDED", obj))
    pod = objs["pod_crashloop"]
    write(t, "pod-lifecycle", line("ADDED", pod) + line("MODIFIED", pod) + line("DELETED", pod))
    write(t, "bookmark", line("BOOKMARK", {"kind": "Pod", "apiVersion": "v1",
                                           "metadata": {"resourceVersion": "12345"}}))
    write(t, "error-410", line("ERROR", {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                         "message": "too old resource version: 1 (2)", "reason": "Expired",
                                         "code": 410}))
    write(t, "mixed", line("ADDED", objs["node_notready"]) + "not json\n\n" + line("WHAT", {}) +
          line("ADDED", objs["event_core"]) + '{"type":"ADDED","object":{"metadata":{"uid":"x"')
    write(t, "pod-odd-fields", line("ADDED", {"metadata": {"uid": "u", "name": 5, "creationTimestamp": "nope",
                                                           "ownerReferences": [1, {"kind": []}]},
                                              "spec": {"containers": [{"resources": {"limits": {"cpu": "1e400",
                                                       "memory": "-5Mi"}}}]},
                                              "status": {"containerStatuses": [{"restartCount": -1e30}]}}))
    for name, text in deep_json().items():
        write(t, name, text)
        write(t, name + "-in-object", '{"type":"ADDED","object":{"metadata":{"uid":"u"},"x":' + text + "}}\n")


def seed_reply():
    t = "reply"
    diag = lambda action, params: json.dumps({"diagnosis": "db unreachable", "confidence": 0.8, "action": action,
                                             "parameters": params, "reasoning": "because"})
    valid = [diag("restart_pod", {"namespace": "shop", "pod": "web-1"}),
             diag("scale_deployment", {"namespace": "shop", "deployment": "web", "replicas": 3}),
             diag("cordon_node", {"node": "n1"}),
             diag("create_alert", {"severity": "warning", "summary": "disk"}),
             diag("none", {})]
    raw = lambda mode, text: bytes([mode]) + text.encode()
    for i, v in enumerate(valid):
        write(t, f"validator-{i}", raw(0, v))
    write(t, "validator-fenced", raw(0, "Here it is:\n```json\n" + valid[0] + "\n```\n"))
    write(t, "validator-prose", raw(0, "I think " + valid[4] + " is right."))
    write(t, "validator-two", raw(0, valid[0] + valid[1]))
    for name, text in deep_json().items():
        write(t, "validator-" + name, raw(0, text))
    # Providers: byte 0 = 1 openai, 2 anthropic, 3 ollama; byte 1 = status index (0 -> 200, 8 -> 429, 9 -> 500).
    prov = lambda mode, status, retry, body: bytes([mode, status]) + retry.encode() + b"\n" + body.encode()
    openai = lambda content, finish="stop": json.dumps({"id": "c", "model": "gpt-x", "choices": [
        {"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5}})
    write(t, "openai-ok", prov(1, 0, "", openai(valid[0])))
    write(t, "openai-length", prov(1, 0, "", openai(valid[0][:20], "length")))
    write(t, "openai-refusal", prov(1, 0, "", json.dumps({"choices": [{"finish_reason": "stop", "message": {
        "content": None, "refusal": "I can't"}}]})))
    write(t, "openai-tool-call", prov(1, 0, "", json.dumps({"choices": [{"finish_reason": "tool_calls", "message": {
        "content": None, "tool_calls": [{"function": {"name": "d", "arguments": valid[1]}}]}}]})))
    write(t, "openai-429", prov(1, 8, "7", json.dumps({"error": {"type": "rate_limit", "message": "slow down"}})))
    write(t, "openai-500-date", prov(1, 9, "Wed, 21 Oct 2015 07:28:00 GMT", "<html>oops</html>"))
    anthropic = lambda inp, stop="tool_use": json.dumps({"id": "m", "model": "claude-x", "stop_reason": stop,
        "content": [{"type": "text", "text": "ok"}, {"type": "tool_use", "name": "diagnosis", "input": inp}],
        "usage": {"input_tokens": 10, "output_tokens": 5}})
    write(t, "anthropic-ok", prov(2, 0, "", anthropic(json.loads(valid[1]))))
    write(t, "anthropic-max-tokens", prov(2, 0, "", anthropic({}, "max_tokens")))
    write(t, "anthropic-529", prov(2, 11, "", json.dumps({"type": "error", "error": {"type": "overloaded_error",
                                                                                      "message": "busy"}})))
    ollama = lambda content: json.dumps({"model": "llama", "message": {"role": "assistant", "content": content},
                                         "done": True, "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 4})
    write(t, "ollama-ok", prov(3, 0, "", ollama(valid[2])))
    write(t, "ollama-error", prov(3, 9, "", json.dumps({"error": "model not found"})))
    for mode, name in ((1, "openai"), (2, "anthropic"), (3, "ollama")):
        for dname, text in deep_json().items():
            write(t, f"{name}-{dname}", prov(mode, 0, "", text))
        write(t, f"{name}-deep-error", prov(mode, 9, "", '{"error":' + deep_json()["deep-array"] + "}"))
    write(t, "openai-deep-content", prov(1, 0, "", '{"choices":[{"message":{"content":' +
                                         deep_json()["deep-array"] + "}}]}"))


def seed_audit():
    t = "audit"
    genesis = "0" * 64

    def canon(v):
        return json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)

    def chain(rows, first_id=1, prev=genesis):
        out = []
        for i, r in enumerate(rows):
            e = {"id": first_id + i, "ts": 1700000000000 + i * 1000, "decision_id": r.get("d", "dec-1"),
                 "kind": r["kind"], "actor": "os:alice", "namespace": "shop", "target": "pod/web-1",
                 "action": r.get("action", ""), "outcome": r.get("outcome", ""), "payload": r.get("payload", {})}
            row = [e["id"], e["ts"], e["decision_id"], e["kind"], e["actor"], e["namespace"], e["target"],
                   e["action"], e["outcome"], canon(e["payload"]), prev]
            h = hashlib.sha256(canon(row).encode()).hexdigest()
            e["prev_hash"], e["hash"] = prev, h
            out.append(canon(e) + "\n")
            prev = h
        return out

    rows = [{"kind": "observed", "payload": {"reason": "CrashLoopBackOff", "count": 3}},
            {"kind": "diagnosed", "payload": {"provider": "rules", "confidence": 0.8}},
            {"kind": "proposed", "action": "restart_pod"},
            {"kind": "verdict", "action": "restart_pod", "outcome": "allowed", "payload": {"reasons": []}},
            {"kind": "executed", "action": "restart_pod", "outcome": "ok", "payload": {"note": "caf\u00e9 \u2713"}}]
    lines = chain(rows)
    write(t, "chain", "".join(lines))
    write(t, "chain-gap", lines[0] + lines[2] + lines[3])
    write(t, "chain-reordered", lines[1] + lines[0] + lines[2])
    write(t, "chain-edited", "".join(lines).replace("CrashLoopBackOff", "OOMKilled"))
    write(t, "chain-later", "".join(chain(rows[:2], first_id=40, prev="a" * 64)))
    write(t, "retention", "".join(chain([{"kind": "retention", "payload": {"droppedThroughId": 9,
                                                                           "droppedLastHash": "b" * 64}}],
                                        first_id=10, prev="b" * 64)))
    write(t, "bad-field", lines[0].replace('"kind":"observed"', '"kind":7'))
    write(t, "not-object", "[1,2,3]\n")
    write(t, "blank-lines", "\n\n" + lines[0] + "\r\n\n")
    for name, text in deep_json().items():
        write(t, name, text + "\n")
        e = json.loads(lines[0])
        write(t, name + "-payload", lines[0].replace(canon(e["payload"]), text))


if __name__ == "__main__":
    if OUT.exists():
        shutil.rmtree(OUT)
    for f in (seed_kubeconfig, seed_policy, seed_watchstream, seed_reply, seed_audit):
        f()
    for d in sorted(OUT.iterdir()):
        print(d.name, len(list(d.iterdir())))
