/// A migration without its rollback file.
public struct MissingRollbackRule: LintRule {
    public static let id = "missing-rollback"
    public static let defaultSeverity = Severity.warning
    public static let summary = "A migration without a rollback file (migrations/rollback/<same name>)"
    public static let remedy = "Add `rollback/<same name>`."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        guard context.hasRollbackFile == false else { return [] }
        let name = context.fileName ?? file.fileName
        return [finding(file, line: 1, column: 1,
            "migration `\(name)` has no rollback file: if it must be undone in a hurry there is no tested way back. Add rollback/\(name) that reverses it")]
    }
}
