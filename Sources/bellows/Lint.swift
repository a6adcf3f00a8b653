import ArgumentParser
import Foundation
import BellowsEngine
import BellowsPlan
import BellowsSQL

struct Lint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lint SQL migrations for statements that lock or rewrite live tables.",
        discussion: "Suppress a finding with `-- bellows:ignore RULE` before the statement; configure rules in bellows.yaml. "
            + ExitStatus.help(0, ExitStatus.refused, ExitStatus.usage,
                              saying: [0: "no finding of error severity", ExitStatus.refused: "a finding of error severity"]))

    @Argument(help: "SQL files or directories (default: migrations/); - reads SQL from standard input.")
    var paths: [String] = []

    @Option(help: "Project directory.")
    var project: String = "."

    @Option(help: "Output format: text, json, github (workflow annotations), gitlab (Code Quality report) or sarif (SARIF 2.1.0).")
    var format: FindingsFormat = .text

    @Flag(help: "List the rules and exit.")
    var listRules = false

    @Option(help: ArgumentHelp("Explain one rule: what it catches, why, and how to fix or suppress it.", valueName: "rule"))
    var explain: String?

    func run() throws {
        if listRules || explain != nil {
            var rules = Linter.ruleDescriptions
            if let explain {
                rules = rules.filter { $0.id == explain }
                guard !rules.isEmpty else {
                    let message = "no lint rule \"\(explain)\"" + (Suggestion.closest(to: explain, in: Linter.ruleIDs).map { "; did you mean \"\($0)\"?" } ?? "")
                        + " (`bellows lint --list-rules` lists them)"
                    renderError(.usage(message), format: format == .json ? .json : .text, command: Self.self)
                    throw ExitCode(ExitStatus.usage)
                }
            }
            switch format {
            case .json:
                JSONOutput.print(Self.documentName, .ok, RulesBody(rules: rules.map {
                    RulesBody.Rule(id: $0.id, severity: $0.defaultSeverity.rawValue, summary: $0.summary, remedy: $0.remedy)
                }))
            case .text, .github, .gitlab, .sarif:
                for rule in rules {
                    if explain == nil {
                        Terminal.out("\(rule.id)  [\(rule.defaultSeverity.rawValue)]  \(rule.summary)")
                    } else {
                        Terminal.out(Terminal.bold(rule.id) + "  (default severity: \(rule.defaultSeverity.rawValue))")
                        Terminal.out("catches: \(rule.summary)")
                        if !rule.remedy.isEmpty { Terminal.out("fix:     \(rule.remedy)") }
                        Terminal.out("suppress one statement with `-- \(Linter.ignoreDirective) \(rule.id): why` before it, or set its severity in bellows.yaml (lint: rules: \(rule.id): off)")
                    }
                }
            }
            return
        }
        let findings: [Finding]
        if paths == ["-"] {
            // SQL on standard input, reported as `<stdin>`.
            let data = FileHandle.standardInput.readDataToEndOfFile()
            findings = ProjectCheck.lint(project: Project(root: project), source: String(decoding: data, as: UTF8.self), path: "<stdin>")
        } else {
            findings = ProjectCheck.lint(project: Project(root: project), paths: paths)
        }
        try Terminal.renderFindings(findings, format: format, command: Self.self)
    }
}

/// `lint --list-rules`'s JSON fields.
struct RulesBody: Encodable {
    struct Rule: Encodable {
        var id: String
        /// The default severity (bellows.yaml may change it).
        var severity: String
        var summary: String
        /// How to fix what it catches.
        var remedy: String
    }

    var rules: [Rule]
}
