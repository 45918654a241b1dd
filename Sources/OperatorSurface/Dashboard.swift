import Foundation
import Mustache
import Planning
import ReleaseGate

/// The read-only page at `/`: what runs where, what waits, what drifted, what happened last.
/// Server-rendered HTML with its style inline, no script and no external asset; it reloads
/// itself. Built only from status.json, the approvals (never their seals) and the audit log.
public enum Dashboard {
    public struct Input: Sendable {
        public var status: ControllerStatus?
        public var approvals: [Approval]
        public var audit: [AuditEntry]
        public var version: String
        public var now: Date
        public var refreshSeconds: Int
        public init(status: ControllerStatus?, approvals: [Approval], audit: [AuditEntry], version: String, now: Date, refreshSeconds: Int = 10) {
            self.status = status
            self.approvals = approvals
            self.audit = audit
            self.version = version
            self.now = now
            self.refreshSeconds = refreshSeconds
        }
    }

    static let template: MustacheTemplate = {
        do { return try MustacheTemplate(string: page) } catch { fatalError("the dashboard template does not parse: \(error)") }
    }()

    public static func render(_ input: Input) -> String { template.render(model(input)) }

    /// Environments in the order people think of them; others after, by name.
    static func ordered(_ environments: Set<String>) -> [String] {
        let known = ["local", "dev", "staging", "prod"]
        return known.filter(environments.contains) + environments.subtracting(known).sorted()
    }

    static func time(_ date: Date?) -> String { date.map(AuditEntry.format) ?? "—" }

    static func span(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min \(s % 60) s" }
        return "\(s / 3600) h \(s % 3600 / 60) min"
    }

    static func conditions(_ conditions: [ControllerStatus.Condition]) -> [[String: Any]] {
        conditions.map { ["type": $0.type.rawValue, "reason": $0.reason] }
    }

    static func model(_ input: Input) -> [String: Any] {
        let now = input.now
        var model: [String: Any] = ["version": input.version, "refresh": input.refreshSeconds, "generated": time(now)]
        guard let status = input.status else {
            model["empty"] = true
            return model
        }
        model["status"] =
            [
                "state": status.state, "source": status.source, "pid": Int(status.pid), "started": time(status.startedAt),
                "lastPoll": time(status.lastPollAt), "nextPoll": time(status.nextPollDue), "nextDrift": time(status.nextDriftCheckDue),
                "seenCommit": status.lastSeen.map { String($0.id.prefix(12)) } ?? "—", "seenSummary": status.lastSeen?.summary ?? "",
                "lastError": status.lastError ?? "", "hasError": status.lastError != nil, "failures": status.consecutiveFailures,
            ] as [String: Any]
        model["problems"] = status.desiredStateProblems
        model["hasProblems"] = !status.desiredStateProblems.isEmpty
        model["frozen"] = status.frozen ?? []
        model["hasFrozen"] = !(status.frozen ?? []).isEmpty
        model["regions"] = status.regions.map { region -> [String: Any] in
            let functions = region.functions ?? []
            let environments = ordered(Set(functions.flatMap(\.aliases.keys)))
            return [
                "region": region.region,
                "applied": region.appliedCommit.map { String($0.prefix(12)) } ?? "—",
                "appliedAt": time(region.appliedAt),
                "attempt": region.attemptOutcome ?? "",
                "conditions": conditions(region.conditions),
                "environments": environments,
                "functions": functions.map { function -> [String: Any] in
                    [
                        "name": function.name, "functionName": function.functionName,
                        "cells": environments.map { function.aliases[$0] ?? "—" },
                    ]
                },
                "stacks": region.stacks.map { stack -> [String: Any] in
                    [
                        "name": stack.name, "status": stack.status ?? "absent", "commit": stack.appliedCommit.map { String($0.prefix(12)) } ?? "—",
                        "conditions": conditions(stack.conditions),
                    ]
                },
            ]
        }
        let live = input.approvals.filter(\.isLive).sorted { $0.requestedAt < $1.requestedAt }
        model["approvals"] = live.map { approval -> [String: Any] in
            let left = approval.expiresAt.timeIntervalSince(now)
            let state =
                approval.state == .partial
                ? "confirmed, partly applied (the controller finishes it)"
                : left > 0 ? "waiting for its code: \(span(left)) left" : "code expired: `reconciler approve \(approval.id) --resend`"
            return [
                "id": approval.id, "environment": approval.environment, "commit": approval.shortCommit, "state": state,
                "requestedBy": approval.requester,
                "requestedAt": time(approval.requestedAt), "changes": approval.lines, "quorum": approval.quorumLine ?? "",
                "hasQuorum": approval.quorumLine != nil,
            ]
        }
        model["hasApprovals"] = !live.isEmpty
        if let drift = status.drift {
            model["drift"] =
                [
                    "at": time(drift.at), "seconds": String(format: "%.1f", drift.seconds), "policy": drift.policy,
                    "findings": drift.findings.map {
                        ["kind": $0.kind.rawValue, "region": $0.region, "subject": $0.subject, "detail": $0.detail, "drift": $0.isDrift]
                    },
                    "clean": drift.findings.isEmpty, "corrections": drift.corrections,
                ] as [String: Any]
        }
        model["audit"] = input.audit.reversed().map { entry -> [String: Any] in
            [
                "time": entry.time, "event": entry.event.rawValue, "user": entry.user, "environment": entry.environment ?? "",
                "approval": entry.approval ?? "", "commit": entry.commit.map { String($0.prefix(12)) } ?? "", "detail": entry.detail ?? "",
            ]
        }
        return model
    }

    static let page = #"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta http-equiv="refresh" content="{{refresh}}">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>reconciler</title>
        <style>
        body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em; color: #1d2329; background: #fafbfc; }
        h1 { font-size: 1.4em; margin: 0 0 .2em; } h2 { font-size: 1.15em; margin: 1.6em 0 .5em; } h3 { font-size: 1em; margin: 1.2em 0 .4em; }
        table { border-collapse: collapse; margin: .3em 0 1em; background: #fff; } \#
        th, td { border: 1px solid #d8dee4; padding: .3em .6em; text-align: left; vertical-align: top; }
        th { background: #f0f3f6; } code, .mono { font-family: ui-monospace, monospace; font-size: .95em; }
        .meta { color: #57606a; } .error { color: #a40e26; } section.region { border-top: 2px solid #d8dee4; }
        .cond { display: inline-block; border-radius: 3px; padding: 0 .4em; margin-right: .3em; font-weight: 600; color: #fff; background: #57606a; }
        .Ready { background: #1a7f37; } .Reconciling { background: #0969da; } .AwaitingApproval { background: #9a6700; }
        .Drifted { background: #bc4c00; } .Stalled { background: #a40e26; }
        ul { margin: .2em 0; padding-left: 1.3em; }
        </style>
        </head>
        <body>
        <h1>reconciler</h1>
        <p class="meta">version {{version}} · page made {{generated}} · reloads every {{refresh}} s · read-only</p>
        {{#empty}}<p>No status yet: the controller has not finished a cycle.</p>{{/empty}}
        {{#status}}
        <table>
        <tr><th>controller</th><td>{{state}} (pid {{pid}}, since {{started}})</td></tr>
        <tr><th>source</th><td class="mono">{{source}}</td></tr>
        <tr><th>last commit seen</th><td><code>{{seenCommit}}</code> {{seenSummary}}</td></tr>
        <tr><th>last poll</th><td>{{lastPoll}}; next poll {{nextPoll}}; next drift check {{nextDrift}}</td></tr>
        {{#hasError}}<tr><th>last error</th><td class="error">{{lastError}} ({{failures}} in a row)</td></tr>{{/hasError}}
        </table>
        {{/status}}
        {{#hasFrozen}}<h2>Frozen</h2><ul>{{#frozen}}<li class="error">{{.}}</li>{{/frozen}}</ul>{{/hasFrozen}}
        {{#hasProblems}}<h2>Desired state invalid</h2><ul>{{#problems}}<li class="error">{{.}}</li>{{/problems}}</ul>{{/hasProblems}}

        <h2>Pending approvals</h2>
        {{^hasApprovals}}<p>None.</p>{{/hasApprovals}}
        {{#approvals}}
        <div class="approval">
        <p><span class="cond AwaitingApproval">AwaitingApproval</span> <strong>{{environment}}</strong> \#
        release of commit <code>{{commit}}</code>, approval <code>{{id}}</code>: {{state}} (requested by {{requestedBy}} at {{requestedAt}})</p>
        {{#hasQuorum}}<p>{{quorum}}</p>{{/hasQuorum}}
        <ul>{{#changes}}<li class="mono">{{.}}</li>{{/changes}}</ul>
        </div>
        {{/approvals}}

        {{#regions}}
        <section class="region">
        <h2>{{region}}</h2>
        <p>applied commit <code>{{applied}}</code> at {{appliedAt}}{{#attempt}} · last attempt: {{attempt}}{{/attempt}}</p>
        <p>{{#conditions}}<span class="cond {{type}}">{{type}}</span> {{reason}}<br>{{/conditions}}</p>
        <h3>Functions</h3>
        <table>
        <tr><th>function</th>{{#environments}}<th>{{.}}</th>{{/environments}}</tr>
        {{#functions}}<tr><td>{{name}} <span class="meta mono">{{functionName}}</span></td>{{#cells}}<td class="mono">{{.}}</td>{{/cells}}</tr>{{/functions}}
        </table>
        <h3>Stacks</h3>
        <table>
        <tr><th>stack</th><th>status</th><th>commit</th><th>conditions</th></tr>
        {{#stacks}}<tr><td class="mono">{{name}}</td><td>{{status}}</td><td><code>{{commit}}</code></td>\#
        <td>{{#conditions}}<span class="cond {{type}}">{{type}}</span> {{reason}}<br>{{/conditions}}</td></tr>{{/stacks}}
        </table>
        </section>
        {{/regions}}

        <h2>Last drift check</h2>
        {{^drift}}<p>None yet.</p>{{/drift}}
        {{#drift}}
        <p>{{at}}, {{seconds}} s, policy {{policy}}{{#clean}}: nothing found{{/clean}}</p>
        <ul>{{#findings}}<li>{{#drift}}<span class="cond Drifted">drift</span>{{/drift}} \#
        {{kind}} · {{region}} · {{subject}}: {{detail}}</li>{{/findings}}</ul>
        {{#corrections}}<p>corrected: {{.}}</p>{{/corrections}}
        {{/drift}}

        <h2>Audit (newest first)</h2>
        <table>
        <tr><th>time</th><th>event</th><th>user</th><th>environment</th><th>approval</th><th>commit</th><th>detail</th></tr>
        {{#audit}}<tr><td>{{time}}</td><td>{{event}}</td><td>{{user}}</td><td>{{environment}}</td>\#
        <td><code>{{approval}}</code></td><td><code>{{commit}}</code></td><td>{{detail}}</td></tr>{{/audit}}
        </table>
        </body>
        </html>
        """#
}
