import BellowsSQL
import Foundation
import Yams

/// `bellows.yaml` at the project root:
///
/// ```yaml
/// lint:
///   disable: [missing-lock-timeout]
///   severity: { non-concurrent-index: error }
/// ```
public enum ProjectConfig {
    public static let fileName = "bellows.yaml"

    public static func lintConfiguration(path: String) -> (LintConfiguration, [Finding]) {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            return (.default, [])
        }
        var reader = NodeReader(file: path, source: text)
        if let refusal = PlanLoader.aliasInKey(text, file: path) { return (.default, [refusal]) }
        let root: Node
        do {
            guard let node = try PlanLoader.compose(text) else { return (.default, []) }
            root = node
        } catch {
            return (.default, [Finding(file: path, line: 1, column: 1, severity: .error, rule: "config-yaml-syntax", message: "invalid YAML: \(error)")])
        }
        var configuration = LintConfiguration.default
        guard let top = reader.mapping(root, what: "bellows.yaml", allowed: ["lint"]),
              let lintNode = top["lint"]?.value,
              let lint = reader.mapping(lintNode, what: "'lint'", allowed: ["disable", "severity"]) else {
            return (configuration, reader.findings)
        }
        let known = Linter.ruleIDs
        for rule in reader.stringList(lint["disable"]?.value, key: "disable") {
            if !known.contains(rule.value) {
                reader.report(at: rule.location, "config-unknown-rule", "unknown lint rule '\(rule.value)'"
                              + (Suggestion.closest(to: rule.value, in: known).map { "; did you mean '\($0)'?" } ?? ""))
            }
            configuration.disabledRules.insert(rule.value)
        }
        if let node = lint["severity"]?.value, let map = reader.mapping(node, what: "'lint.severity'", allowed: known) {
            for (rule, pair) in map {
                guard let value = reader.string(pair.value, key: rule) else { continue }
                if let severity = Severity(rawValue: value.value) {
                    configuration.severityOverrides[rule] = severity
                } else {
                    reader.report(pair.value, "plan-invalid-value", "severity must be info, warning or error, found '\(value.value)'")
                }
            }
        }
        return (configuration, reader.findings)
    }
}
