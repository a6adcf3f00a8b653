/// A NUL byte, which ends the statement libpq sends (the server would run a truncated statement). The runner refuses such a file
/// (`MigrationFile.problems(_:analysis:)`); this rule says so before it is applied.
public struct NulByteRule: LintRule {
    public static let id = MigrationFile.nulRule
    public static let defaultSeverity = Severity.error
    public static let summary = "A NUL byte, which ends the statement libpq sends (the server would run a truncated statement)"
    public static let remedy = "Remove it."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        MigrationFile.nulProblems(file.analysis.tokens.map(\.text).joined()).map { finding(file, line: $0.line, column: $0.column, $0.message) }
    }
}
