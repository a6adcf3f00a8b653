/// `ADD CONSTRAINT … CHECK/FOREIGN KEY/NOT NULL` validated immediately on an existing table
/// (`NOT NULL column`: PostgreSQL 18's NOT NULL constraint, which takes NOT VALID as a CHECK does).
public struct ConstraintNotValidRule: LintRule {
    public static let id = "constraint-without-not-valid"
    public static let defaultSeverity = Severity.error
    public static let summary = "CHECK, FOREIGN KEY or NOT NULL (PostgreSQL 18) constraint added to an existing table without NOT VALID (full scan under lock)"
    public static let remedy = "Add with `NOT VALID`, `VALIDATE CONSTRAINT` in a later migration."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for (i, s) in file.statements.enumerated() {
            guard let alter = AlterTable(s), file.isExistingTable(alter.table, before: i, context: context) else { continue }
            for action in alter.actions {
                if case .column(let column, let nameIndex)? = AddAction(action) {
                    // Inline `REFERENCES` / `CHECK` on a new column: validated at once, under the
                    // ADD COLUMN's ACCESS EXCLUSIVE lock.
                    guard let k = action.indexOf("REFERENCES", from: nameIndex + 1) ?? action.indexOf("CHECK", from: nameIndex + 1),
                          let token = action[significant: k] else { continue }
                    let kind = token.isKeyword("CHECK") ? "CHECK" : "REFERENCES (foreign key)"
                    findings.append(finding(file, at: token,
                        "adding column `\(column)` with an inline \(kind) constraint validates it over the whole table `\(alter.table)` while the ADD COLUMN holds its ACCESS EXCLUSIVE lock, blocking reads and writes. Add the column without it, then `ADD CONSTRAINT … NOT VALID` and `VALIDATE CONSTRAINT` in a later migration"))
                    continue
                }
                guard case .constraint(_, let kind)? = AddAction(action), let kindToken = action[significant: kind],
                      action.indexOf("NOT", "VALID") == nil else { continue }
                if action.matches(["NOT", "NULL"], at: kind) {
                    findings.append(finding(file, at: kindToken,
                        "adding a NOT NULL constraint (PostgreSQL 18) scans the whole table `\(alter.table)` to prove no row is NULL under an ACCESS EXCLUSIVE lock, blocking reads and writes. Add it with NOT VALID (new rows are checked at once) and run `ALTER TABLE … VALIDATE CONSTRAINT` in a later migration, which takes a lock that lets reads and writes continue — or let a Bellows plan's `not_null: true` do it"))
                    continue
                }
                guard kindToken.isKeyword("CHECK") || kindToken.isKeyword("FOREIGN") else { continue }
                let lock = kindToken.isKeyword("FOREIGN")
                    ? "scans `\(alter.table)` to validate every row while holding a SHARE ROW EXCLUSIVE lock on it and on the referenced table, blocking writes to both"
                    : "scans the whole table `\(alter.table)` under an ACCESS EXCLUSIVE lock, blocking reads and writes"
                findings.append(finding(file, at: kindToken,
                    "adding a \(kindToken.isKeyword("FOREIGN") ? "FOREIGN KEY" : "CHECK") constraint \(lock). Add it with NOT VALID (new rows are checked at once) and run `ALTER TABLE … VALIDATE CONSTRAINT` in a later migration, which takes a lock that lets reads and writes continue"))
            }
        }
        return findings
    }
}
