/// Two migrations with the same number.
public struct DuplicateMigrationNumberRule: LintRule {
    public static let id = "migration-duplicate-number"
    public static let defaultSeverity = Severity.error
    public static let summary = "Two migration files with the same number (their order is ambiguous)"
    public static let remedy = "Renumber one of the files after the last migration."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        let name = context.fileName ?? file.fileName
        guard let number = MigrationNaming.number(name) else { return [] }
        let others = context.migrationNumbering.names(numbered: number).filter { $0 != name }
        guard !others.isEmpty else { return [] }
        return [finding(file, line: 1, column: 1,
            "migration number \(number) of `\(name)` is also used by \(others.map { "`\($0)`" }.joined(separator: ", ")): their order is ambiguous (often two branches merged). Renumber one of them after the last migration")]
    }
}
