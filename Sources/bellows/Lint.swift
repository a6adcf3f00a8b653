import ArgumentParser
import BellowsEngine
import BellowsSQL

struct Lint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lint SQL migrations for statements that lock or rewrite live tables.",
        discussion: "Suppress a finding with `-- bellows:ignore RULE` before the statement; configure rules in bellows.yaml. "
            + ExitStatus.help(0, ExitStatus.refused, ExitStatus.usage,
                              saying: [0: "no finding of error severity", ExitStatus.refused: "a finding of error severity"]))

    @Argument(help: "SQL files or directories (default: migrations/).")
    var paths: [String] = []

    @Option(help: "Project directory.")
    var project: String = "."

    @Option(help: "Output format: text, json or github (workflow annotations).")
    var format: FindingsFormat = .text

    @Flag(help: "List the rules and exit.")
    var listRules = false

    func run() throws {
        if listRules {
            switch format {
            case .json:
                JSONOutput.print(Self.documentName, .ok, RulesBody(rules: Linter.ruleDescriptions.map {
                    RulesBody.Rule(id: $0.id, severity: $0.defaultSeverity.rawValue, summary: $0.summary)
                }))
            case .text, .github:
                for rule in Linter.ruleDescriptions { Terminal.out("\(rule.id)  [\(rule.defaultSeverity.rawValue)]  \(rule.summary)") }
            }
            return
        }
        let findings = ProjectCheck.lint(project: Project(root: project), paths: paths)
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
    }

    var rules: [Rule]
}
