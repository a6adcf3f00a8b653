import BellowsSQL
import Foundation
import Yams

/// `bellows.yaml` at the project root:
///
/// ```yaml
/// lint:
///   disable: [missing-lock-timeout]
///   severity: { non-concurrent-index: error }
/// hooks:                 # see HookConfiguration
///   commands: [{ when: before contract, run: ./check-backup }]
/// rehearse:              # value hints of `bellows rehearse`, per table (a plan's own win)
///   values:
///     orders: { state: ["open", "paid"], code: "'ORD-' || g" }
/// ```
public enum ProjectConfig {
    public static let fileName = "bellows.yaml"

    /// Everything `bellows.yaml` says: lint settings and hooks.
    public struct Configuration: Sendable, Hashable {
        public var lint: LintConfiguration = .default
        public var hooks = HookConfiguration()
        /// The errors that leave the hooks unknown or wrong (in `hooks:`, or YAML that cannot be
        /// read): a phase refuses to run while there are any, rather than skip a hook.
        public var hookFindings: [Finding] = []
        /// `rehearse: values:`: the rehearsal's value hints for tables' columns.
        public var rehearsalValues: [TableRehearsalValues] = []
        /// `strategy: views`: the project's applications go through their versioned schemas, so
        /// `check` asks every plan of plain renames to say `strategy:` (`ViewsStrategy.projectFindings`).
        public var strategy: Located<PlanStrategy>? = nil
        /// `archive: false`: contract keeps no archive of the columns it drops, unless a plan
        /// says `archive: true` (nil: archive).
        public var archive: Bool?
        /// `archive_retention: 30 days`: how long `bellows archive purge --expired` keeps an
        /// archive (nil: forever).
        public var archiveRetentionSeconds: Int?
        /// `publish_state: true`: a publication may send Bellows' own tables (`bellows.*`,
        /// `bellows_archive.*`) to its subscribers, which have them (docs/operations.md).
        public var publishState: Bool?
    }

    /// `publish_state:` of the project whose root is `root` (false without a `bellows.yaml`).
    public static func publishState(root: String) -> Bool {
        load(path: (root as NSString).appendingPathComponent(fileName)).0.publishState == true
    }

    /// The value hints `bellows.yaml` gives one table's columns (`rehearse: values: TABLE:`),
    /// for every plan's rehearsal; a plan's own hint for a column wins.
    public struct TableRehearsalValues: Sendable, Hashable {
        public var table: Located<String>
        public var values: [RehearsalValues]
        public var tableName: TableName { TableName(parsing: table.value) ?? TableName(schema: nil, name: table.value) }
    }

    /// The value hints of the project whose root is `root` (none without a `bellows.yaml`).
    public static func rehearsalValues(root: String) -> [TableRehearsalValues] {
        load(path: (root as NSString).appendingPathComponent(fileName)).0.rehearsalValues
    }

    /// The project's `strategy:` (none without a `bellows.yaml` or the key).
    public static func strategy(root: String) -> Located<PlanStrategy>? {
        load(path: (root as NSString).appendingPathComponent(fileName)).0.strategy
    }

    public static func lintConfiguration(path: String) -> (LintConfiguration, [Finding]) {
        let (configuration, findings) = load(path: path)
        return (configuration.lint, findings)
    }

    /// `archive:` and `archive_retention:` of the project whose root is `root` (defaults without a `bellows.yaml`).
    public static func archiveSettings(root: String) -> (archive: Bool?, retentionSeconds: Int?) {
        let configuration = load(path: (root as NSString).appendingPathComponent(fileName)).0
        return (configuration.archive, configuration.archiveRetentionSeconds)
    }

    /// The hooks of the project whose root is `root` (none without a `bellows.yaml`).
    public static func hooks(root: String) -> (HookConfiguration, [Finding]) {
        let (configuration, _) = load(path: (root as NSString).appendingPathComponent(fileName))
        return (configuration.hooks, configuration.hookFindings.filter { $0.severity == .error })
    }

    /// Reads the file; a missing file is the default. Every problem is a located finding.
    public static func load(path: String) -> (Configuration, [Finding]) {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            return (Configuration(), [])
        }
        var reader = NodeReader(file: path, source: text)
        var unreadable = Configuration()
        if let refusal = PlanLoader.aliasInKey(text, file: path) {
            unreadable.hookFindings = [refusal]
            return (unreadable, [refusal])
        }
        let root: Node
        do {
            guard let node = try PlanLoader.compose(text) else { return (Configuration(), []) }
            root = node
        } catch {
            unreadable.hookFindings = [Finding(file: path, line: 1, column: 1, severity: .error, rule: "config-yaml-syntax", message: "invalid YAML: \(error)")]
            return (unreadable, unreadable.hookFindings)
        }
        var result = Configuration()
        guard let top = reader.mapping(root, what: "bellows.yaml", allowed: ["lint", "hooks", "rehearse", "strategy", "archive", "archive_retention", "publish_state"]) else { return (result, reader.findings) }
        result.archive = reader.bool(top["archive"]?.value, key: "archive")?.value
        result.publishState = reader.bool(top["publish_state"]?.value, key: "publish_state")?.value
        if let node = top["archive_retention"]?.value, let text = reader.string(node, key: "archive_retention") {
            if let seconds = ArchiveRetention.parse(text.value) {
                result.archiveRetentionSeconds = seconds
            } else {
                reader.report(node, "plan-invalid-value", "'archive_retention' must be a number and a unit (minutes, hours, days, weeks), such as 30 days; found '\(text.value)'")
            }
        }
        if let node = top["rehearse"]?.value, let map = reader.mapping(node, what: "'rehearse'", allowed: ["values"]),
           let valuesNode = map["values"]?.value {
            if case .mapping(let tables) = valuesNode {
                for (keyNode, value) in tables {
                    guard case .scalar(let key) = keyNode, !key.string.isEmpty else {
                        reader.report(keyNode, "plan-wrong-type", "keys in 'rehearse.values' must be table names")
                        continue
                    }
                    let values = PlanLoader.readRehearsalValues(value, reader: &reader, key: "rehearse.values.\(key.string)")
                    result.rehearsalValues.append(TableRehearsalValues(table: Located(key.string, at: reader.location(keyNode)), values: values))
                }
            } else {
                reader.report(valuesNode, "plan-wrong-type", "'rehearse.values' must be a mapping of table: { column: [values] or \"SQL expression of g\" }, found \(NodeReader.typeName(valuesNode))")
            }
        }
        if let text = reader.choice(top["strategy"]?.value, key: "strategy", allowed: PlanStrategy.allCases.map(\.rawValue)),
           let strategy = PlanStrategy(rawValue: text.value) {
            result.strategy = Located(strategy, at: text.location)
        }
        if let hooksNode = top["hooks"]?.value {
            let before = reader.findings.count
            result.hooks = readHooks(hooksNode, reader: &reader)
            result.hookFindings = Array(reader.findings[before...])
        }
        guard let lintNode = top["lint"]?.value,
              let lint = reader.mapping(lintNode, what: "'lint'", allowed: ["disable", "severity"]) else {
            return (result, reader.findings)
        }
        var configuration = LintConfiguration.default
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
        result.lint = configuration
        return (result, reader.findings)
    }
}
