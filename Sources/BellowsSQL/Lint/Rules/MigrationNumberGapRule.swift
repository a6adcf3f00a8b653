/// A hole in the migration numbering.
public struct MigrationNumberGapRule: LintRule {
    public static let id = "migration-number-gap"
    public static let defaultSeverity = Severity.warning
    public static let summary = "A gap in migration numbering (a migration deleted or not yet merged?)"
    public static let remedy = "Restore or renumber the missing migration."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        let name = context.fileName ?? file.fileName
        guard let number = MigrationNaming.number(name) else { return [] }
        guard let previous = context.migrationNumbering.number(before: number), previous != number - 1 else { return [] }
        let missing = previous + 1 == number - 1 ? "\(previous + 1)" : "\(previous + 1)–\(number - 1)"
        return [finding(file, line: 1, column: 1,
            "migration numbering jumps from \(previous) to \(number) at `\(name)`: \(missing) is missing. A deleted or unmerged migration leaves databases in different states; renumber or restore it")]
    }
}
