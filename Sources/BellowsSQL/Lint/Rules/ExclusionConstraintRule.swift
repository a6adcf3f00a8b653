/// `ALTER TABLE … ADD [CONSTRAINT n] EXCLUDE …` on an existing table: builds the
/// constraint's index under an ACCESS EXCLUSIVE lock, and there is no concurrent form.
public struct ExclusionConstraintRule: LintRule {
    public static let id = "exclusion-constraint"
    public static let defaultSeverity = Severity.error
    public static let summary = "EXCLUDE constraint added to an existing table (builds its index under an ACCESS EXCLUSIVE lock; no online form)"
    public static let remedy = "No online form (no `USING INDEX` for exclusion constraints): add it with the table, or in a maintenance window with `-- bellows:ignore exclusion-constraint`."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for (i, s) in file.statements.enumerated() {
            guard let alter = AlterTable(s), file.isExistingTable(alter.table, before: i, context: context) else { continue }
            for action in alter.actions {
                guard case .constraint(_, let kind)? = AddAction(action), action.matches(["EXCLUDE"], at: kind),
                      let token = action[significant: kind] else { continue }
                findings.append(finding(file, at: token,
                    "adding an EXCLUDE constraint to existing table `\(alter.table)` builds its index and checks every row under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole build. PostgreSQL has no concurrent form (no `USING INDEX` for exclusion constraints): add it when the table is created, or in a maintenance window and suppress with `-- bellows:ignore \(Self.id)` and the reason"))
            }
        }
        return findings
    }
}
