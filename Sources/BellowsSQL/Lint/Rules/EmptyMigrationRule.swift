/// A migration file without a single statement. The runner refuses it
/// (`MigrationFile.problems(_:analysis:)`): recording it would claim a change that never ran.
public struct EmptyMigrationRule: LintRule {
    public static let id = "empty-migration"
    public static let defaultSeverity = Severity.error
    public static let summary = "A migration file with no SQL statement (only comments or nothing)"
    public static let remedy = "Write the migration, or delete the file."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        guard file.statements.isEmpty, !file.fileName.isEmpty else { return [] }
        return [finding(file, line: 1, column: 1, "the file has no SQL statement; `bellows migrate` refuses it (applying it would record a migration that does nothing)")]
    }
}
