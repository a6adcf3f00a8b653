/// COPY … FROM STDIN or TO STDOUT, which need a client that sends or reads rows (psql), not the migration runner. The runner refuses such a file
/// (`MigrationFile.problems(_:analysis:)`); this rule says so before it is applied.
public struct CopyStdinRule: LintRule {
    public static let id = MigrationFile.copyRule
    public static let defaultSeverity = Severity.error
    public static let summary = "COPY … FROM STDIN or TO STDOUT, which need a client that sends or reads rows (psql), not the migration runner"
    public static let remedy = "`INSERT … VALUES`, or `COPY … FROM` a server-side file."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        MigrationFile.copyProblems(file.analysis).map { finding(file, line: $0.line, column: $0.column, $0.message) }
    }
}
