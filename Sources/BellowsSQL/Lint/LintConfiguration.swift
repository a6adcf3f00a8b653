/// Which lint rules run and how severe their findings are. Loaded by the CLI from
/// `bellows.yaml`:
///
/// ```yaml
/// lint:
///   disable: [drop-column]
///   severity:
///     missing-lock-timeout: error
/// ```
public struct LintConfiguration: Sendable, Hashable {
    /// Rule ids that do not run at all.
    public var disabledRules: Set<String>
    /// Rule id → severity that replaces the rule's own for all its findings.
    public var severityOverrides: [String: Severity]

    public init(disabledRules: Set<String> = [], severityOverrides: [String: Severity] = [:]) {
        self.disabledRules = disabledRules
        self.severityOverrides = severityOverrides
    }

    public static let `default` = LintConfiguration()

    /// Rule ids named in this configuration that no rule has (a typo in `bellows.yaml`).
    public var unknownRuleIDs: [String] {
        let known = Set(Linter.ruleIDs)
        return (disabledRules.union(severityOverrides.keys)).filter { !known.contains($0) }.sorted()
    }

    public func isEnabled(_ ruleID: String) -> Bool { !disabledRules.contains(ruleID) }

    public func severity(for ruleID: String, default severity: Severity) -> Severity {
        severityOverrides[ruleID] ?? severity
    }
}
