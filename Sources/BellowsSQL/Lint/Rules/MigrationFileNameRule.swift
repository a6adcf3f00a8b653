/// Migration file names must be `NNN_snake_case_description.sql`.
public struct MigrationFileNameRule: LintRule {
    public static let id = "migration-file-name"
    public static let defaultSeverity = Severity.error
    public static let summary = "A migration file name that is not NNN_snake_case_description.sql (three or more digits)"
    public static let remedy = "Rename to `NNN_snake_case.sql`."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        let name = context.fileName ?? file.fileName
        guard !MigrationNaming.isWellFormed(name) else { return [] }
        return [finding(file, line: 1, column: 1,
            "migration file name `\(name)` is not `NNN_snake_case_description.sql` (three or more digits, lower-case words joined by `_`): the runner orders migrations by that number, so a malformed name may run out of order or not at all. Rename it, e.g. `004_add_customer_email.sql`")]
    }
}
