/// `ADD PRIMARY KEY` / `ADD UNIQUE` building its index under an ACCESS EXCLUSIVE lock.
public struct UniqueWithoutIndexRule: LintRule {
    public static let id = "unique-without-index"
    public static let defaultSeverity = Severity.error
    public static let summary = "PRIMARY KEY or UNIQUE constraint added to an existing table without USING INDEX (builds the index under an exclusive lock)"
    public static let remedy = "`CREATE UNIQUE INDEX CONCURRENTLY`, then `ADD CONSTRAINT … UNIQUE/PRIMARY KEY USING INDEX`."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for (i, s) in file.statements.enumerated() {
            guard let alter = AlterTable(s), file.isExistingTable(alter.table, before: i, context: context) else { continue }
            for action in alter.actions {
                let token: Token?
                switch AddAction(action) {
                case .constraint(_, let kind)?:
                    guard let t = action[significant: kind], t.isKeyword("PRIMARY") || t.isKeyword("UNIQUE"),
                          action.indexOf("USING", "INDEX") == nil else { continue }
                    token = t
                case .column(_, let nameIndex)?:
                    token = (action.indexOf("PRIMARY", "KEY", from: nameIndex + 1) ?? action.indexOf("UNIQUE", from: nameIndex + 1))
                        .flatMap { action[significant: $0] }
                case nil:
                    continue
                }
                guard let token else { continue }
                let kind = token.isKeyword("PRIMARY") ? "PRIMARY KEY" : "UNIQUE"
                findings.append(finding(file, at: token,
                    "adding a \(kind) constraint to existing table `\(alter.table)` builds its index under an ACCESS EXCLUSIVE lock, blocking reads and writes. First `CREATE UNIQUE INDEX CONCURRENTLY` (in its own migration file), then `ADD CONSTRAINT … \(kind) USING INDEX` the index"))
            }
        }
        return findings
    }
}
