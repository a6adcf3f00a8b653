/// BEGIN, COMMIT, ROLLBACK or SAVEPOINT in a file that the runner cannot honour exactly (a ROLLBACK, a COMMIT in the middle, an unclosed block). The runner refuses such a file
/// (`MigrationFile.problems(_:analysis:)`); this rule says so before it is applied.
public struct FileTransactionControlRule: LintRule {
    public static let id = MigrationFile.transactionControlRule
    public static let defaultSeverity = Severity.error
    public static let summary = "BEGIN, COMMIT, ROLLBACK or SAVEPOINT in a file that the runner cannot honour exactly (a ROLLBACK, a COMMIT in the middle, an unclosed block)"
    public static let remedy = "One transaction per file (a leading BEGIN and trailing COMMIT are fine); blocks only in `-- bellows:no-transaction` files (docs/migrations.md, \"The file's own transaction control\")."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        MigrationFile.transactionControlProblems(file.analysis).filter { $0.rule == Self.id }.map { finding(file, line: $0.line, column: $0.column, $0.message) }
    }
}
