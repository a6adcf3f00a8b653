@testable import BellowsSQL

/// Lints `sql` with only `rule` enabled. File name defaults to a well-formed one.
func lint(_ sql: String, only rule: String, path: String = "migrations/010_test.sql",
          context: LintContext = .empty) -> [Finding] {
    let others = Set(Linter.ruleIDs).subtracting([rule])
    return Linter(configuration: LintConfiguration(disabledRules: others)).lint(path: path, contents: sql, context: context)
}

/// `line:column` of each finding, in reading order.
func positions(_ findings: [Finding]) -> [String] {
    findings.map { "\($0.line):\($0.column)" }
}
