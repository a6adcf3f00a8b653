/// `-- Migration:` header naming another migration than the file.
public struct MigrationHeaderMismatchRule: LintRule {
    public static let id = "migration-header-mismatch"
    public static let defaultSeverity = Severity.error
    public static let summary = "A `-- Migration:` header that does not match the file name (copied from another file?)"
    public static let remedy = "Make the header `-- Migration: <file name without .sql>`."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        let name = context.fileName ?? file.fileName
        let header = file.analysis.header
        guard let declared = header.migration, declared != MigrationNaming.stem(name), declared != name else { return [] }
        return [finding(file, line: header.migrationLine ?? 1, column: 1,
            "the header says `-- Migration: \(declared)` but the file is `\(name)`: the header was probably copied from another migration, and tools that record the header would record the wrong migration. Make it `-- Migration: \(MigrationNaming.stem(name))`")]
    }
}
